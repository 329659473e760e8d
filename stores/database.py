"""Where the conversations are stored, shared by the tracker store (Rasa's side), the retention job and
the staff inbox, so the three always open the same database and read the same table."""

from __future__ import annotations

from typing import Dict, Optional

import sqlalchemy as sa

import settings


def database_url() -> str:
    """DATABASE_URL (PostgreSQL in production), else the SQLite file TRACKER_DB."""
    url = settings.optional("DATABASE_URL")
    if url:
        # SQLAlchemy 1.4 dropped the "postgres://" alias that hosting platforms still hand out.
        return "postgresql://" + url[len("postgres://") :] if url.startswith("postgres://") else url
    return "sqlite:///" + settings.text("TRACKER_DB")


_events_tables: Dict[sa.engine.Engine, sa.Table] = {}


def events_table(engine: sa.engine.Engine) -> Optional[sa.Table]:
    """Rasa's `events` table (SQLTrackerStore's), reflected once per engine; None until Rasa made it."""
    if engine not in _events_tables:
        if not sa.inspect(engine).has_table("events"):
            return None
        _events_tables[engine] = sa.Table("events", sa.MetaData(), autoload_with=engine)
    return _events_tables[engine]
