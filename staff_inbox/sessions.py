"""Signed-in browsers. The cookie carries a random token; the database keeps only its SHA-256, the
account's name, the form token that every POST must carry (CSRF), when it started and when it was last
used. A session idle for STAFF_SESSION_MINUTES ends, and any session after STAFF_SESSION_MAX_HOURS.

The sign-in form's own token (before any session) is signed with a key made at process start: the
page takes back only a token it issued, never one planted in the browser by another site."""

from __future__ import annotations

import hashlib
import hmac
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


def max_seconds() -> float:
    return settings.seconds("STAFF_SESSION_MAX_HOURS") * 3600


def start(engine: sa.engine.Engine, username: str, replacing: Optional[str] = None) -> str:
    """A new session for this account (ending the one the browser had, if any); returns the token."""
    token = secrets.token_urlsafe(32)
    now = time.time()
    with engine.begin() as connection:
        if replacing:
            connection.execute(staff_sessions.delete().where(staff_sessions.c.token_hash == _digest(replacing)))
        connection.execute(
            staff_sessions.insert().values(
                token_hash=_digest(token),
                username=username,
                csrf_token=secrets.token_urlsafe(32),
                started=now,
                last_seen=now,
            )
        )
    return token


def purge_expired(connection: sa.engine.Connection, now: Optional[float] = None) -> int:
    """Delete sessions that can no longer be used (the retention job runs this)."""
    now = time.time() if now is None else now
    if not sa.inspect(connection).has_table(staff_sessions.name):
        return 0
    return connection.execute(
        staff_sessions.delete().where(
            (staff_sessions.c.last_seen < now - idle_seconds()) | (staff_sessions.c.started < now - max_seconds())
        )
    ).rowcount


_SIGN_IN_KEY = secrets.token_bytes(32)


SIGN_IN_TOKEN_SECONDS = 3600


def sign_in_token(presented: Optional[str] = None, now: Optional[float] = None) -> str:
    """The sign-in form's token: the one presented, if this process signed it within the hour; else a
    new one. It holds its issue time, signed with the nonce."""
    if presented and signed_by_us(presented, now):
        return presented
    nonce = f"{secrets.token_urlsafe(18)}-{int(time.time() if now is None else now)}"
    return nonce + "." + hmac.new(_SIGN_IN_KEY, nonce.encode(), hashlib.sha256).hexdigest()


def signed_by_us(token: str, now: Optional[float] = None) -> bool:
    nonce, _, signature = token.partition(".")
    expected = hmac.new(_SIGN_IN_KEY, nonce.encode(), hashlib.sha256).hexdigest()
    if not (nonce and hmac.compare_digest(signature, expected)):
        return False
    issued = nonce.rsplit("-", 1)[-1]
    age = (time.time() if now is None else now) - int(issued) if issued.isdigit() else None
    return age is not None and 0 <= age <= SIGN_IN_TOKEN_SECONDS


def find(engine: sa.engine.Engine, token: Optional[str], now: Optional[float] = None) -> Optional[Session]:
    """The session of this cookie, if it exists and was used recently; using it keeps it alive."""
    if not token:
        return None
    now = time.time() if now is None else now
    with engine.begin() as connection:
        row = connection.execute(sa.select(staff_sessions).where(staff_sessions.c.token_hash == _digest(token))).first()
        if row is None:
            return None
        if now - row.last_seen > idle_seconds() or now - row.started > max_seconds():
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
