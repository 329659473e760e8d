"""Every environment variable the assistant's servers read: its default and what it means.

The one place for the defaults. Product code reads a setting through `text`, `integer`, `seconds`
or (for one that may stay unset) `optional` here, never with its own `os.environ.get(name, default)`.
Files that cannot import Python mirror the defaults they need (the Makefile, scripts/run.sh, the
compose file and the Helm values), and tests/test_settings.py checks that every mirror agrees with
this table.

A default of None means "unset": the feature it names is off (a channel without its credentials,
the HTTP API without a token) or another default applies (no DATABASE_URL: SQLite at TRACKER_DB).
Secrets have no default and come only from the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional


@dataclass(frozen=True)
class Setting:
    name: str
    default: Optional[str]
    meaning: str
    secret: bool = False


SETTINGS = {
    setting.name: setting
    for setting in [
        # --- Where the servers listen (scripts/rasa_server.py, scripts/action_server.py, scripts/run.sh) ---
        Setting("RASA_PORT", "5005", "the Rasa server's port"),
        Setting("RASA_INTERFACE", "127.0.0.1", "the Rasa server's interface (a container sets 0.0.0.0)"),
        Setting("ACTIONS_PORT", "5055", "the action server's port"),
        Setting("ACTIONS_INTERFACE", "127.0.0.1", "the action server's interface (a container sets 0.0.0.0)"),
        Setting(
            "ACTIONS_URL",
            "http://127.0.0.1:5055/webhook",
            "where Rasa calls the action server (endpoints.yml); follows ACTIONS_PORT in make run",
        ),
        Setting("WEB_PORT", "8080", "make run's demo clinic page with the widget"),
        Setting("MODEL", "models/knee-assistant.tar.gz", "the trained model the Rasa server loads"),
        Setting(
            "SANIC_BACKLOG",
            "1024",
            "connections waiting to be accepted (Rasa's own default is 100, too few for long-polling)",
        ),
        # --- Who may call it ---
        Setting("CORS_ORIGINS", None, "space-separated website origins allowed to call the server; '*' is refused"),
        Setting("RASA_API_TOKEN", None, "turns Rasa's HTTP API on, protected by this token", secret=True),
        Setting("RASA_JWT_SECRET", None, "turns Rasa's HTTP API on, protected by JWTs signed with it", secret=True),
        Setting("RASA_JWT_METHOD", "HS256", "the algorithm of RASA_JWT_SECRET's JWTs"),
        Setting("SOCKETIO_JWT_KEY", None, "the widget must connect with a JWT signed with this key", secret=True),
        Setting("SOCKETIO_JWT_METHOD", "HS256", "the algorithm of SOCKETIO_JWT_KEY's JWTs"),
        # --- The patient guard (channels/guard.py) ---
        Setting("MAX_MESSAGE_CHARS", "4000", "longer messages get a polite refusal and are not processed"),
        Setting("RATE_LIMIT", "30/60;10/5", "per patient, messages/seconds windows (channels/rate_limit.py)"),
        Setting(
            "MAX_TURNS_IN_FLIGHT",
            "24",
            "turns one Rasa server answers at once; more get the 'busy, send it again' reply at once",
        ),
        Setting("TURN_DEADLINE_SECONDS", "8", "a patient who heard nothing by then gets the 'technical problem' reply"),
        Setting("ACTION_TIMEOUT_SECONDS", "4", "a custom action slower than this is given up on"),
        # --- Stores (endpoints.yml, stores/) ---
        Setting("DATABASE_URL", None, "PostgreSQL for conversations; unset, the SQLite file TRACKER_DB", secret=True),
        Setting("TRACKER_DB", "var/trackers.db", "the SQLite file of conversations when DATABASE_URL is unset"),
        Setting("DB_RETRY_SECONDS", "20", "how long a lost database connection is retried before a turn fails"),
        Setting(
            "REDIS_URL",
            None,
            "Redis for the lock store and shared rate limits; unset, in memory (right for one instance only)",
            secret=True,
        ),
        Setting("REDIS_RETRY_SECONDS", "20", "how long a lost Redis connection is retried"),
        Setting("LOCK_POLL_SECONDS", "0.02", "how often a turn waiting for its conversation's lock checks it"),
        Setting("RETENTION_DAYS", "30", "conversations quiet for longer are deleted (privacy/retention.py)"),
        # --- The staff inbox (staff_inbox/): its own process, on the same database ---
        Setting("STAFF_INBOX_PORT", "5010", "the staff inbox's port (nginx serves it at /staff/)"),
        Setting("STAFF_INBOX_INTERFACE", "127.0.0.1", "the staff inbox's interface (a container sets 0.0.0.0)"),
        Setting("STAFF_SESSION_MINUTES", "30", "a staff member idle for longer is signed out"),
        Setting("STAFF_SESSION_MAX_HOURS", "12", "and every session ends after this long, busy or not"),
        Setting("STAFF_LOCKOUT_ATTEMPTS", "5", "failed sign-ins in a row (one name, one address) before a lock"),
        Setting("STAFF_LOCKOUT_MINUTES", "15", "how long that name stays locked from that address"),
        Setting(
            "STAFF_INBOX_URL", "http://127.0.0.1:5010/staff", "the inbox's address as staff reach it (alert links)"
        ),
        Setting("STAFF_ALERT_POLL_SECONDS", "15", "how often the inbox looks for new items to alert staff about"),
        Setting("STAFF_ALERT_EMAIL", None, "comma-separated addresses alerted of new items (no health detail)"),
        Setting("STAFF_ALERT_FROM", "knee-assistant@localhost", "the alert emails' sender"),
        Setting("STAFF_ALERT_SMS", None, "comma-separated phone numbers alerted by SMS through Twilio"),
        Setting("SMTP_HOST", None, "the mail server for staff alerts"),
        Setting("SMTP_PORT", "587", "its port"),
        Setting("SMTP_STARTTLS", "1", "1: upgrade to TLS before signing in (0 only for a server on loopback)"),
        Setting("SMTP_USERNAME", None, "the mail server's user, if it needs one"),
        Setting("SMTP_PASSWORD", None, "that user's password", secret=True),
        Setting(
            "TWILIO_API_URL", "https://api.twilio.com", "Twilio's REST API, for SMS alerts (tests point it at a fake)"
        ),
        Setting("FHIR_ENDPOINT_URL", None, "the clinic system's FHIR R4 base URL the inbox may send bundles to"),
        Setting("FHIR_ENDPOINT_TOKEN", None, "a bearer token for FHIR_ENDPOINT_URL", secret=True),
        Setting(
            "AUDIT_RETENTION_DAYS",
            "2190",
            "how long the staff audit log is kept (six years, HIPAA's for such records; set your jurisdiction's)",
        ),
        # --- Messaging channels: each is off until its credentials are set ---
        Setting("TWILIO_ACCOUNT_SID", None, "Twilio account (SMS/WhatsApp)", secret=True),
        Setting("TWILIO_AUTH_TOKEN", None, "Twilio's signing secret: unsigned requests are refused", secret=True),
        Setting("TWILIO_NUMBER", None, "the clinic's Twilio number"),
        Setting("TWILIO_WEBHOOK_URL", None, "the public webhook URL Twilio signs (behind a proxy)"),
        Setting("TELEGRAM_TOKEN", None, "the Telegram bot's token", secret=True),
        Setting("TELEGRAM_WEBHOOK_URL", None, "the public webhook URL registered with Telegram"),
        Setting("TELEGRAM_API_URL", "https://api.telegram.org", "the Bot API (the tests point it at a fake)"),
        # --- Content ---
        Setting("ARTICLES_DIR", None, "the clinic's articles; unset, ../shared/articles beside the project"),
    ]
}


def optional(name: str, env: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The setting's value from `env` (default: the process environment), else its default (None
    for a setting that may stay unset). Empty counts as unset: compose passes `${VAR:-}` through as
    an empty string."""
    setting = SETTINGS[name]  # a KeyError names a setting that is not in the table
    value = (os.environ if env is None else env).get(name, "")
    return value.strip() or setting.default


def text(name: str, env: Optional[Mapping[str, str]] = None) -> str:
    """A setting that always has a value (its default when unset)."""
    value = optional(name, env)
    if value is None:
        raise KeyError(f"{name} has no default and is not set: read it with settings.optional")
    return value


def integer(name: str, env: Optional[Mapping[str, str]] = None) -> int:
    return int(text(name, env))


def seconds(name: str, env: Optional[Mapping[str, str]] = None) -> float:
    return float(text(name, env))
