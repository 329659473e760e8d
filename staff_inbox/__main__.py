"""Start the staff inbox: `python -m staff_inbox` (make run starts it; nginx serves it at /staff/)."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from aiohttp import web

import settings
from staff_inbox.web import create_app
from stores.database import database_url


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    engine = sa.create_engine(database_url(), hide_parameters=True, pool_pre_ping=True)
    web.run_app(
        create_app(engine),
        host=settings.text("STAFF_INBOX_INTERFACE"),
        port=settings.integer("STAFF_INBOX_PORT"),
        print=None,
    )


if __name__ == "__main__":
    main()
