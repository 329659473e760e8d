"""Where the conversations are stored: one function, shared by the tracker store (Rasa's side), the
retention job and the staff inbox, so the three always open the same database."""

from __future__ import annotations

import settings


def database_url() -> str:
    """DATABASE_URL (PostgreSQL in production), else the SQLite file TRACKER_DB."""
    url = settings.optional("DATABASE_URL")
    if url:
        # SQLAlchemy 1.4 dropped the "postgres://" alias that hosting platforms still hand out.
        return "postgresql://" + url[len("postgres://") :] if url.startswith("postgres://") else url
    return "sqlite:///" + settings.text("TRACKER_DB")
