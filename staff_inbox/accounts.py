"""Staff accounts: created from the command line, passwords hashed with argon2 (argon2-cffi), and a
lock on a name from one address after STAFF_LOCKOUT_ATTEMPTS failed sign-ins in a row from there.

    make staff-account USERNAME=alex ROLE=staff        (asks for the password twice)
    python -m staff_inbox.accounts create alex --role admin --password-stdin < file

There is no sign-up page on purpose: an account is something an administrator of the server gives.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

import settings
from staff_inbox.roles import ROLES
from staff_inbox.tables import create_tables, staff_accounts, staff_sign_in_failures

MIN_PASSWORD_CHARS = 12
_hasher = PasswordHasher()
# Checked when the username is unknown, so that a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AccountError(ValueError):
    """A request the command line refuses, with a message for the person typing it."""


@dataclass(frozen=True)
class Account:
    username: str
    role: str


class SignInRefused(Exception):
    """Wrong name or password, or a locked account: the page says the same for all three."""


def create_account(engine: sa.engine.Engine, username: str, password: str, role: str) -> Account:
    username = username.strip()
    if not username or len(username) > 80 or not username.isprintable():
        raise AccountError("A username is 1 to 80 printable characters.")
    if role not in ROLES:
        raise AccountError(f"The role is one of: {', '.join(ROLES)}.")
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"A password has at least {MIN_PASSWORD_CHARS} characters.")
    create_tables(engine)
    with engine.begin() as connection:
        if connection.execute(sa.select(staff_accounts.c.id).where(staff_accounts.c.username == username)).first():
            raise AccountError(f"There is already an account named {username}.")
        connection.execute(
            staff_accounts.insert().values(
                username=username,
                password_hash=_hasher.hash(password),
                role=role,
                created_at=time.time(),
            )
        )
    return Account(username, role)


def sign_in(
    engine: sa.engine.Engine, username: str, password: str, address: str = "", now: Optional[float] = None
) -> Account:
    """The account, if the password is right and this name is not locked from this address; else
    SignInRefused. Every attempt is counted before the password is checked (an atomic increment), so
    parallel guesses cannot share one count; a locked or unknown name costs as much time as a wrong
    password, so the answer's speed does not tell whether a name exists."""
    now = time.time() if now is None else now
    with engine.connect() as connection:
        row = connection.execute(sa.select(staff_accounts).where(staff_accounts.c.username == username)).first()
    if row is None:
        _verify(_DUMMY_HASH, password)
        raise SignInRefused()
    failures = _count_attempt(engine, username, address, now)
    if failures is None:  # locked, or over the limit while other attempts are being checked
        _verify(_DUMMY_HASH, password)
        raise SignInRefused()
    if _verify(row.password_hash, password):
        with engine.begin() as connection:
            connection.execute(_failures_of(username, address))
        return Account(row.username, row.role)
    raise SignInRefused()


def _failures_of(username: str, address: str) -> Any:
    """Forget the failed attempts of this name from this address."""
    return sa.delete(staff_sign_in_failures).where(
        (staff_sign_in_failures.c.username == username) & (staff_sign_in_failures.c.address == address)
    )


def _count_attempt(engine: sa.engine.Engine, username: str, address: str, now: float) -> Optional[int]:
    """Count one attempt for (name, address); the count so far, or None while it is locked."""
    key = (staff_sign_in_failures.c.username == username) & (staff_sign_in_failures.c.address == address)
    with _attempt_lock:
        return _counted(engine, key, username, address, now)


# SQLite has no row locks: within one process, attempts are counted one at a time.
_attempt_lock = threading.Lock()


def _counted(engine: sa.engine.Engine, key: Any, username: str, address: str, now: float) -> Optional[int]:
    for _ in range(3):  # an insert that loses a race to another attempt's insert is retried as an update
        try:
            with engine.begin() as connection:
                locked = connection.execute(
                    sa.select(staff_sign_in_failures.c.locked_until).where(key).with_for_update()
                ).first()
                limit = settings.integer("STAFF_LOCKOUT_ATTEMPTS")
                if locked is None:
                    connection.execute(
                        staff_sign_in_failures.insert().values(username=username, address=address, failures=0)
                    )
                elif locked.locked_until and locked.locked_until > now:
                    return None
                elif locked.locked_until:  # a lock that has run out: start counting again
                    connection.execute(
                        sa.update(staff_sign_in_failures).where(key).values(failures=0, locked_until=None)
                    )
                connection.execute(
                    sa.update(staff_sign_in_failures).where(key).values(failures=staff_sign_in_failures.c.failures + 1)
                )
                failures = int(connection.execute(sa.select(staff_sign_in_failures.c.failures).where(key)).scalar_one())
                # The lock is set with the count that reaches the limit, in the same transaction: attempts
                # made while that one is being checked are refused unchecked (a right password clears it).
                if failures >= limit:
                    lock_until = now + settings.seconds("STAFF_LOCKOUT_MINUTES") * 60
                    connection.execute(sa.update(staff_sign_in_failures).where(key).values(locked_until=lock_until))
                return failures if failures <= limit else None
        except sa.exc.IntegrityError:
            continue
    return None


def account(engine: sa.engine.Engine, username: str) -> Optional[Account]:
    with engine.connect() as connection:
        row = connection.execute(sa.select(staff_accounts).where(staff_accounts.c.username == username)).first()
    return Account(row.username, row.role) if row else None


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def main(argv: Optional[list] = None) -> int:
    from stores.database import database_url

    parser = argparse.ArgumentParser(description="Create a staff account for the inbox.")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create an account")
    create.add_argument("username")
    create.add_argument("--role", choices=sorted(ROLES), default="staff")
    create.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    args = parser.parse_args(argv)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("The two passwords differ; nothing was created.", file=sys.stderr)
            return 1
    try:
        created = create_account(
            sa.create_engine(database_url(), hide_parameters=True), args.username, password, args.role
        )
    except AccountError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"Created {created.role} account {created.username}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
