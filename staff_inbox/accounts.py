"""Staff accounts: created from the command line, passwords hashed with argon2 (argon2-cffi), a
lockout after STAFF_LOCKOUT_ATTEMPTS failed sign-ins in a row.

    make staff-account USERNAME=alex ROLE=staff        (asks for the password twice)
    python -m staff_inbox.accounts create alex --role admin --password-stdin < file

There is no sign-up page on purpose: an account is something an administrator of the server gives.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from dataclasses import dataclass
from typing import Optional

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

import settings
from staff_inbox.roles import ROLES
from staff_inbox.tables import create_tables, staff_accounts

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
                failed_sign_ins=0,
                created_at=time.time(),
            )
        )
    return Account(username, role)


def sign_in(engine: sa.engine.Engine, username: str, password: str, now: Optional[float] = None) -> Account:
    """The account, if the password is right and the account is not locked; else SignInRefused."""
    now = time.time() if now is None else now
    with engine.begin() as connection:
        row = connection.execute(sa.select(staff_accounts).where(staff_accounts.c.username == username)).first()
    if row is None:
        _verify(_DUMMY_HASH, password)
        raise SignInRefused()
    if row.locked_until and row.locked_until > now:
        raise SignInRefused()
    right = _verify(row.password_hash, password)
    failed = 0 if right else row.failed_sign_ins + 1
    locked_until: Optional[float] = None
    if failed >= settings.integer("STAFF_LOCKOUT_ATTEMPTS"):
        failed, locked_until = 0, now + settings.seconds("STAFF_LOCKOUT_MINUTES") * 60
    with engine.begin() as connection:  # committed before a refusal is raised
        connection.execute(
            staff_accounts.update()
            .where(staff_accounts.c.id == row.id)
            .values(failed_sign_ins=failed, locked_until=locked_until)
        )
    if not right:
        raise SignInRefused()
    return Account(row.username, row.role)


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
