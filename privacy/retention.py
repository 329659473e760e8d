"""Delete every conversation that has been quiet for longer than RETENTION_DAYS (default 30) from
the tracker store: `python -m privacy.retention [--days N]`. Run it daily (deploy/ has the schedule;
`make run` runs it once at start).

A conversation goes as a whole, once its latest event is older than the limit: deleting only the old
events of a conversation still in use would leave Rasa a tracker without its beginning. The freed
space is then vacuumed, so that deleted messages do not linger in the database file's free pages.
Redis holds only locks and rate counts, which expire by themselves within minutes.

The staff inbox's items for a deleted conversation go with it. The staff audit log holds no health
data and is kept for its own period, AUDIT_RETENTION_DAYS (default six years), then deleted here too.
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Optional

import sqlalchemy as sa

import settings
from staff_inbox.sessions import purge_expired
from staff_inbox.tables import expire_audit_log, forget_conversations
from stores.database import database_url, events_table

logger = logging.getLogger(__name__)


def retention_days() -> float:
    return settings.seconds("RETENTION_DAYS")


def delete_quiet_conversations(engine: sa.engine.Engine, days: float, now: Optional[float] = None) -> int:
    """Delete the conversations whose latest event is older than `days`; return how many went."""
    cutoff = (time.time() if now is None else now) - days * 86400
    events = events_table(engine)
    if events is None:
        return 0
    quiet = sa.select(events.c.sender_id).group_by(events.c.sender_id).having(sa.func.max(events.c.timestamp) < cutoff)
    with engine.begin() as connection:
        senders = [row[0] for row in connection.execute(quiet)]
        for start in range(0, len(senders), 500):
            chunk = senders[start : start + 500]
            connection.execute(events.delete().where(events.c.sender_id.in_(chunk)))
            forget_conversations(connection, chunk)
    if senders:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM events" if engine.dialect.name == "postgresql" else "VACUUM"))
    return len(senders)


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--days",
        type=float,
        default=retention_days(),
        help="keep conversations active within this many days (RETENTION_DAYS)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")
    engine = sa.create_engine(database_url(), hide_parameters=True)
    with engine.begin() as connection:
        expired = expire_audit_log(connection, time.time() - settings.seconds("AUDIT_RETENTION_DAYS") * 86400)
        purge_expired(connection)  # staff sessions that can no longer be used
    logger.info(f"Retention: deleted {expired} audit log entries older than AUDIT_RETENTION_DAYS.")
    if events_table(engine) is None:
        logger.info("Retention: no conversations stored yet.")
        return 0
    deleted = delete_quiet_conversations(engine, args.days)
    logger.info(f"Retention: deleted {deleted} conversation(s) quiet for more than {args.days:g} days.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
