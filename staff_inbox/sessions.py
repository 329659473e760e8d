"""Signed-in browsers. The cookie carries a random token; the database keeps only its SHA-256, the
account's name, the form token that every POST must carry (CSRF) and when it was last used. A
session idle for STAFF_SESSION_MINUTES ends."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Optional

import sqlalchemy as sa

import settings
from staff_inbox.tables import staff_sessions


@dataclass(frozen=True)
class Session:
    username: str
    csrf_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def idle_seconds() -> float:
    return settings.seconds("STAFF_SESSION_MINUTES") * 60


def start(engine: sa.engine.Engine, username: str) -> str:
    """A new session for this account; returns the cookie's token."""
    token = secrets.token_urlsafe(32)
    with engine.begin() as connection:
        connection.execute(
            staff_sessions.insert().values(
                token_hash=_digest(token),
                username=username,
                csrf_token=secrets.token_urlsafe(32),
                last_seen=time.time(),
            )
        )
    return token


def find(engine: sa.engine.Engine, token: Optional[str], now: Optional[float] = None) -> Optional[Session]:
    """The session of this cookie, if it exists and was used recently; using it keeps it alive."""
    if not token:
        return None
    now = time.time() if now is None else now
    with engine.begin() as connection:
        row = connection.execute(sa.select(staff_sessions).where(staff_sessions.c.token_hash == _digest(token))).first()
        if row is None:
            return None
        if now - row.last_seen > idle_seconds():
            connection.execute(staff_sessions.delete().where(staff_sessions.c.token_hash == row.token_hash))
            return None
        connection.execute(
            staff_sessions.update().where(staff_sessions.c.token_hash == row.token_hash).values(last_seen=now)
        )
    return Session(row.username, row.csrf_token)


def end(engine: sa.engine.Engine, token: Optional[str]) -> None:
    if token:
        with engine.begin() as connection:
            connection.execute(staff_sessions.delete().where(staff_sessions.c.token_hash == _digest(token)))


def same_token(given: Optional[str], expected: str) -> bool:
    return bool(given) and secrets.compare_digest(str(given), expected)
