"""The tracker store named in endpoints.yml: Rasa's SQLTrackerStore, on PostgreSQL when DATABASE_URL
is set and on the SQLite file TRACKER_DB otherwise, with three changes for a clinic:

  * patients' messages are redacted (privacy.redaction) before their events are written, so phone
    numbers, emails, dates of birth and names never reach the database (nor an event broker, if one
    is ever configured);
  * a database restart is ridden out: connections are checked before use (pool_pre_ping) and an
    operation that fails on a lost connection is retried for DB_RETRY_SECONDS. Without this, Rasa's
    FailSafeTrackerStore answers a failed read with a new, empty conversation and keeps a failed
    write in memory only, i.e. the turn is lost from the database;
  * SQL parameters are never formatted into errors or logs (hide_parameters): they carry the
    conversation's events;
  * an error while reading or writing a conversation is an error, not the end of the server: Rasa's
    session_scope turns any ValueError inside it (meant for a missing PostgreSQL schema) into
    sys.exit, and a value the database refuses (a NUL, a lone surrogate) raises one.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from typing import Any, Awaitable, Callable, Generator, Iterable, List, Optional, Text, Type, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore, create_engine_kwargs, ensure_schema_exists
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from rasa.shared.utils.cli import print_error_and_exit
from sqlalchemy.orm import Session

import settings
from privacy.redaction import redact_event
from stores.database import database_url

logger = logging.getLogger(__name__)
T = TypeVar("T")


def retry_seconds() -> float:
    return settings.seconds("DB_RETRY_SECONDS")


class TrackerStoreUnavailable(Exception):
    """The database stayed unreachable for DB_RETRY_SECONDS. Carries no SQL and no event data."""


def _connection_lost(error: sqlalchemy.exc.DBAPIError) -> bool:
    return (
        isinstance(error, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError))
        or error.connection_invalidated
    )


@functools.lru_cache(maxsize=None)
def _event_class(type_name: Optional[str]) -> Optional[Type[Event]]:
    """Rasa's Event.resolve_by_type, which walks every Event subclass at each call, once per name."""
    return Event.resolve_by_type(type_name, None) if type_name else None


class PrivateTrackerStore(SQLTrackerStore):
    engine: sa.engine.Engine  # Rasa's SQLTrackerStore sets it without a type mypy can see

    def __init__(
        self, domain: Optional[Domain] = None, event_broker: Optional[EventBroker] = None, **_endpoint_settings: Any
    ) -> None:
        url = database_url()
        # A URL with "://" is taken whole by SQLTrackerStore; it creates the tables.
        super().__init__(domain=domain, host=url, event_broker=event_broker)
        self.engine.dispose()
        self.engine = sa.create_engine(url, pool_pre_ping=True, hide_parameters=True, **create_engine_kwargs(url))
        self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)
        logger.info(f"Tracker store: {self.engine.dialect.name} (messages redacted before storage).")

    @contextlib.contextmanager
    def session_scope(self) -> Generator[Session, None, None]:
        session = self.sessionmaker()
        try:
            try:
                ensure_schema_exists(session)
            except ValueError as schema:  # POSTGRESQL_SCHEMA names no schema: a setup error, as in Rasa
                print_error_and_exit(f"PostgreSQL schema '{schema}' (POSTGRESQL_SCHEMA) does not exist.")
            yield session
        finally:
            session.close()

    async def _retrying(self, operation: Callable[[], Awaitable[T]]) -> T:
        deadline = time.monotonic() + retry_seconds()
        pause = 0.1
        while True:
            try:
                return await operation()
            except sqlalchemy.exc.DBAPIError as error:
                if not _connection_lost(error):
                    raise TrackerStoreUnavailable(f"database error: {type(error.orig).__name__}") from None
                if time.monotonic() + pause > deadline:
                    raise TrackerStoreUnavailable(
                        f"database unreachable for {retry_seconds():.0f} s: {type(error.orig).__name__}"
                    ) from None
                logger.warning(f"Tracker store: connection lost ({type(error.orig).__name__}), retrying.")
                await asyncio.sleep(pause)
                pause = min(pause * 2, 2.0)

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        return await self._retrying(lambda: super(PrivateTrackerStore, self).retrieve(sender_id))

    async def _retrieve(self, sender_id: Text, fetch_events_from_all_sessions: bool) -> Optional[DialogueStateTracker]:
        # SQLTrackerStore._retrieve, reading only the JSON column (not a full ORM object per row) and
        # looking each event's class up once, not once per event: the tracker is read at every turn
        # and the cost grows with the conversation (with Rasa's own _retrieve, this assistant's turns took
        # ~54 ms at a conversation's start and ~184 ms at its 200th turn).
        with self.session_scope() as session:
            query = self._event_query(session, sender_id, fetch_events_from_all_sessions)
            rows = query.with_entities(self.SQLEvent.data).all()
        if not (self.domain and rows):
            return None
        events = []
        for (data,) in rows:
            parameters = json.loads(data)
            event_class = _event_class(parameters.get("event"))
            event = event_class._from_parameters(parameters) if event_class else None
            if event is not None:
                events.append(event)
        return DialogueStateTracker.from_events(sender_id, events, self.domain.slots)

    async def retrieve_full_tracker(self, conversation_id: Text) -> Optional[DialogueStateTracker]:
        return await self._retrying(lambda: super(PrivateTrackerStore, self).retrieve_full_tracker(conversation_id))

    async def keys(self) -> Iterable[Text]:
        return await self._retrying(lambda: super(PrivateTrackerStore, self).keys())

    async def save(self, tracker: DialogueStateTracker) -> None:
        await self._retrying(lambda: self._save_redacted(tracker))

    async def _stream_new_events(self, event_broker: EventBroker, new_events: List[Event], sender_id: Text) -> None:
        for event in new_events:
            event_broker.publish({"sender_id": sender_id, **redact_event(event.as_dict())})

    async def _save_redacted(self, tracker: DialogueStateTracker) -> None:
        # SQLTrackerStore.save, with each event redacted on its way into the row.
        await self.stream_events(tracker)
        with self.session_scope() as session:
            for event in self._additional_events(session, tracker):
                data = redact_event(event.as_dict())
                session.add(
                    self.SQLEvent(
                        sender_id=tracker.sender_id,
                        type_name=event.type_name,
                        timestamp=data.get("timestamp"),
                        intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                        action_name=data.get("name"),
                        data=json.dumps(data),
                    )
                )
            session.commit()
