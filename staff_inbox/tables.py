"""The staff inbox's tables, in the same database as the conversations (SQLAlchemy Core).

  staff_accounts   who may sign in: an argon2 hash, never the password; failed sign-ins and lockout
  staff_sessions   signed-in browsers: the SHA-256 of the cookie's token (a stolen database copy
                   holds no usable session) and the form token that guards every POST (CSRF)
  inbox_items      what needs a person: a handoff request, a completed self-check, an escalation;
                   new -> claimed (by whom) -> closed. Points at a conversation; holds no message text
  inbox_progress   how far the events table has been read into inbox_items
  audit_log        who signed in, viewed, claimed, closed or exported what, and when. Ids only, no
                   health data; kept AUDIT_RETENTION_DAYS, apart from the conversations' retention

The conversations themselves stay in Rasa's `events` table, which only the tracker store writes.
"""

from __future__ import annotations

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
    sa.Column("failed_sign_ins", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", sa.Float),  # epoch seconds
    sa.Column("created_at", sa.Float, nullable=False),
)

staff_sessions = sa.Table(
    "staff_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(80), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
)

inbox_items = sa.Table(
    "inbox_items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),  # handoff, self_check, escalation
    sa.Column("event_id", sa.Integer, nullable=False),  # the event in `events` that raised it
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
    sa.Column("last_event_id", sa.Integer, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("username", sa.String(80), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),  # signed_in, viewed, claimed, closed, exported...
    sa.Column("sender_id", sa.String(255)),  # the conversation concerned, if any
    sa.Column("item_id", sa.Integer),
)


def create_tables(engine: sa.engine.Engine) -> None:
    metadata.create_all(engine)


def forget_conversations(connection: sa.engine.Connection, senders: Iterable[str]) -> None:
    """The retention job deletes a conversation: its inbox items go with it (the audit log keeps
    only the id, which no longer leads to anything)."""
    senders = list(senders)
    if senders and sa.inspect(connection).has_table(inbox_items.name):
        connection.execute(inbox_items.delete().where(inbox_items.c.sender_id.in_(senders)))


def expire_audit_log(connection: sa.engine.Connection, cutoff: float) -> int:
    """Delete audit entries older than `cutoff` (epoch seconds); return how many went."""
    if not sa.inspect(connection).has_table(audit_log.name):
        return 0
    return connection.execute(audit_log.delete().where(audit_log.c.at < cutoff)).rowcount
