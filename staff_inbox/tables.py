"""The staff inbox's tables, in the same database as the conversations (SQLAlchemy Core).

  staff_accounts   who may sign in: an argon2 hash, never the password; failed sign-ins and lockout
  staff_sessions   signed-in browsers: the SHA-256 of the cookie's token (a stolen database copy
                   holds no usable session) and the form token that guards every POST (CSRF)
  inbox_items      what needs a person: a handoff request, a completed self-check, an escalation;
                   new -> claimed (by whom) -> closed. Points at a conversation; holds no message text
  inbox_progress   how far the events table has been read into inbox_items (and inbox_seen_events,
                   what was read)
  inbox_conversations  an inbox-local pseudonym per conversation, for the audit log and exports
  audit_log        who signed in, viewed, claimed, closed or exported what, and when. Pseudonyms and
                   item numbers only, no health data; kept AUDIT_RETENTION_DAYS, apart from the
                   conversations' retention

The conversations themselves stay in Rasa's `events` table, which only the tracker store writes.
"""

from __future__ import annotations

import functools
from typing import Iterable

import sqlalchemy as sa

metadata = sa.MetaData()

staff_accounts = sa.Table(
    "staff_accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(80), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # staff or admin (staff_inbox/roles.py)
    sa.Column("created_at", sa.Float, nullable=False),
)

# Failed sign-ins in a row for one name from one address, and the lock they led to. Keyed by address
# too, so that someone elsewhere on the internet cannot lock the clinic's staff out of their inbox.
staff_sign_in_failures = sa.Table(
    "staff_sign_in_failures",
    metadata,
    sa.Column("username", sa.String(80), primary_key=True),
    sa.Column("address", sa.String(64), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.Float),  # epoch seconds
)

staff_sessions = sa.Table(
    "staff_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(80), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
)

inbox_items = sa.Table(
    "inbox_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),  # handoff, self_check, escalation
    sa.Column("level", sa.Integer, nullable=False),  # clinical.triage.Level, for the queue's order
    sa.Column("raised_at", sa.Float, nullable=False),  # the event's timestamp
    sa.Column("status", sa.String(16), nullable=False, default="new"),  # new, claimed, closed
    sa.Column("claimed_by", sa.String(80)),
    sa.Column("closed_by", sa.String(80)),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("alerted_at", sa.Float),  # when staff were alerted of it (staff_inbox/alerts.py)
)

inbox_progress = sa.Table(
    "inbox_progress",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # The newest event timestamp read so far. Each sync re-reads a window before it (queue.REREAD_SECONDS):
    # ids and timestamps are handed out in one order and committed in another by concurrent instances.
    sa.Column("read_up_to", sa.Float, nullable=False),
)

# The events already turned into items (or judged duplicates of an open one), so that re-reading a
# window never raises one twice. Pruned once older than the window.
inbox_seen_events = sa.Table(
    "inbox_seen_events",
    metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("timestamp", sa.Float, primary_key=True),
)

# An inbox-local pseudonym for each conversation: what the audit log and the FHIR export name, so that
# neither holds the channel's own id (a Telegram chat id is the patient's account). Deleted with the
# conversation, after which the pseudonym leads nowhere.
inbox_conversations = sa.Table(
    "inbox_conversations",
    metadata,
    sa.Column("sender_id", sa.String(255), primary_key=True),
    sa.Column("pseudonym", sa.String(36), nullable=False, unique=True),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("username", sa.String(80), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),  # signed_in, viewed, claimed, closed, exported...
    sa.Column("conversation", sa.String(36)),  # the conversation's pseudonym, if any
    sa.Column("item_id", sa.Integer),
    sa.Column("address", sa.String(64)),  # where a sign-in came from (nginx's X-Forwarded-For)
    sa.Column("user_agent", sa.String(200)),
)


@functools.lru_cache(maxsize=8)
def create_tables(engine: sa.engine.Engine) -> None:
    """The inbox's tables and its progress row, once per engine and process (the queue calls this on
    every look; creating checks every table)."""
    metadata.create_all(engine)
    with engine.begin() as connection:  # the one progress row, which syncs lock (queue.sync)
        if connection.execute(sa.select(inbox_progress.c.id)).first() is None:
            connection.execute(inbox_progress.insert().values(id=1, read_up_to=0.0))


def forget_conversations(connection: sa.engine.Connection, senders: Iterable[str]) -> None:
    """The retention job deletes a conversation: its inbox items and its pseudonym go with it (the
    audit log keeps only the pseudonym, which then leads nowhere)."""
    senders = list(senders)
    for table in (inbox_items, inbox_seen_events, inbox_conversations):
        if senders and sa.inspect(connection).has_table(table.name):
            connection.execute(table.delete().where(table.c.sender_id.in_(senders)))


def expire_audit_log(connection: sa.engine.Connection, cutoff: float) -> int:
    """Delete audit entries older than `cutoff` (epoch seconds); return how many went."""
    if not sa.inspect(connection).has_table(audit_log.name):
        return 0
    return connection.execute(audit_log.delete().where(audit_log.c.at < cutoff)).rowcount
