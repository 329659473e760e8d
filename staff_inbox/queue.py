"""The queue: what in the stored conversations needs a person, read from Rasa's `events` table.

The Rasa servers do not write to the inbox: the inbox reads the events they already store, so a
patient's turn costs nothing more and the inbox can be down without the assistant noticing. An item
is raised by
  * a request to talk to a person (a user message with the intent human_handoff),
  * a completed or stopped self-check (the triage_result slot, source "self_check"),
  * an emergency or same-day escalation (the triage_result slot, source "red_flag_check").
A conversation has at most one open item of each kind. An item's level is the highest the
conversation has reached, so the queue shows the most urgent conversations first, then the newest.
"""

from __future__ import annotations

import functools
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import sqlalchemy as sa

from clinical.handover import HANDOFF_INTENT
from clinical.self_check import RESULT_SLOT
from clinical.triage import Level
from staff_inbox.tables import create_tables, inbox_conversations, inbox_items, inbox_progress, inbox_seen_events
from stores.database import events_table

HANDOFF, SELF_CHECK, ESCALATION = "handoff", "self_check", "escalation"
KIND_NAMES = {HANDOFF: "Asked for a person", SELF_CHECK: "Self-check", ESCALATION: "Red flag escalated"}
NEW, CLAIMED, CLOSED = "new", "claimed", "closed"
OPEN = (NEW, CLAIMED)


class ItemConflict(Exception):
    """Claiming an item someone else holds, or closing one you do not hold."""


@dataclass(frozen=True)
class Item:
    id: int
    sender_id: str
    kind: str
    level: Level
    raised_at: float
    status: str
    claimed_by: Optional[str]
    closed_by: Optional[str]

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.kind]


def _raised(row: Any) -> Optional[Tuple[str, Level]]:
    """The kind of item and the level this event raises, if it raises one."""
    if row.type_name == "user":
        return (HANDOFF, Level.SELF_CARE_INFO) if row.intent_name == HANDOFF_INTENT else None
    event = json.loads(row.data)
    value = event.get("value")
    if event.get("name") != RESULT_SLOT or not isinstance(value, dict) or not value.get("level"):
        return None
    level = Level.from_code(value["level"])
    if value.get("source") == "self_check":
        return SELF_CHECK, level
    if value.get("source") == "red_flag_check" and level >= Level.URGENT:
        return ESCALATION, level
    return None


# Rasa instances commit their events in another order than they number and time-stamp them, and a
# turn's save may wait for a database restart (DB_RETRY_SECONDS): each sync re-reads this far back.
REREAD_SECONDS = 600
# Syncs of one process never overlap (the alert loop's thread and a page's); PostgreSQL's row lock on
# inbox_progress keeps two processes apart too.
_sync_lock = threading.Lock()


def sync(engine: sa.engine.Engine, now: Optional[float] = None) -> int:
    """Read the events stored since the last sync into the queue; return how many items were raised."""
    create_tables(engine)
    events = events_table(engine)
    if events is None:
        return 0
    _index_event_times(engine)
    now = time.time() if now is None else now
    raised = 0
    with _sync_lock, engine.begin() as connection:
        read_up_to = connection.execute(
            sa.select(inbox_progress.c.read_up_to).where(inbox_progress.c.id == 1).with_for_update()
        ).scalar_one()
        since = read_up_to - REREAD_SECONDS
        rows = connection.execute(
            sa.select(events.c.sender_id, events.c.type_name, events.c.intent_name, events.c.timestamp, events.c.data)
            .where(events.c.timestamp >= since)
            .where(
                sa.or_(
                    sa.and_(events.c.type_name == "user", events.c.intent_name == HANDOFF_INTENT),
                    sa.and_(events.c.type_name == "slot", events.c.data.like(f'%"{RESULT_SLOT}"%')),
                )
            )
            .order_by(events.c.timestamp, events.c.id)
        ).all()
        seen = {
            (row.sender_id, row.kind, row.timestamp)
            for row in connection.execute(sa.select(inbox_seen_events).where(inbox_seen_events.c.timestamp >= since))
        }
        for row in rows:
            found = _raised(row)
            if found is None or (row.sender_id, found[0], row.timestamp) in seen:
                continue
            seen.add((row.sender_id, found[0], row.timestamp))
            connection.execute(
                inbox_seen_events.insert().values(sender_id=row.sender_id, kind=found[0], timestamp=row.timestamp)
            )
            raised += _raise(connection, row, *found, now=now)
        # Never past the inbox's own clock: one event stamped in the future (a host's fast clock) must not
        # move the window beyond the events still to come.
        newest = min(max([read_up_to] + [row.timestamp for row in rows if row.timestamp is not None]), now)
        connection.execute(inbox_progress.update().where(inbox_progress.c.id == 1).values(read_up_to=newest))
        connection.execute(
            inbox_seen_events.delete().where(inbox_seen_events.c.timestamp < newest - 2 * REREAD_SECONDS)
        )
    return raised


def _raise(connection: sa.engine.Connection, row: Any, kind: str, level: Level, now: float) -> int:
    existing = connection.execute(sa.select(inbox_items.c.level).where(inbox_items.c.sender_id == row.sender_id)).all()
    highest = max([level] + [Level(item.level) for item in existing])
    # Every open item of this conversation moves up with it; one that becomes urgent or an emergency
    # is alerted about again (staff_inbox/alerts.py).
    rising = (
        inbox_items.update()
        .where(inbox_items.c.sender_id == row.sender_id)
        .where(inbox_items.c.status.in_(OPEN))
        .where(inbox_items.c.level < int(highest))
    )
    again: Dict[str, Any] = {"alerted_at": None} if highest >= Level.URGENT else {}
    connection.execute(rising.values(level=int(highest), updated_at=now, **again))
    already_open = connection.execute(
        sa.select(inbox_items.c.id)
        .where(inbox_items.c.sender_id == row.sender_id)
        .where(inbox_items.c.kind == kind)
        .where(inbox_items.c.status.in_(OPEN))
    ).first()
    if already_open:
        return 0
    if (
        connection.execute(
            sa.select(inbox_conversations.c.sender_id).where(inbox_conversations.c.sender_id == row.sender_id)
        ).first()
        is None
    ):
        connection.execute(inbox_conversations.insert().values(sender_id=row.sender_id, pseudonym=str(uuid.uuid4())))
    connection.execute(
        inbox_items.insert().values(
            sender_id=row.sender_id,
            kind=kind,
            level=int(highest),
            raised_at=row.timestamp or now,
            status=NEW,
            updated_at=now,
        )
    )
    return 1


def pseudonym(engine: sa.engine.Engine, sender_id: str) -> str:
    """The conversation's inbox-local pseudonym (made with its first item, or now)."""
    select = sa.select(inbox_conversations.c.pseudonym).where(inbox_conversations.c.sender_id == sender_id)
    with engine.begin() as connection:
        found = connection.execute(select).scalar()
        if found is None:
            found = str(uuid.uuid4())
            connection.execute(inbox_conversations.insert().values(sender_id=sender_id, pseudonym=found))
    return str(found)


@functools.lru_cache(maxsize=8)
def _index_event_times(engine: sa.engine.Engine) -> None:
    """An index on Rasa's events.timestamp (Rasa makes none), once per process: each sync reads by time."""
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_events_timestamp ON events (timestamp)"))


def _item(row: Any) -> Item:
    return Item(
        id=row.id,
        sender_id=row.sender_id,
        kind=row.kind,
        level=Level(row.level),
        raised_at=row.raised_at,
        status=row.status,
        claimed_by=row.claimed_by,
        closed_by=row.closed_by,
    )


def items(engine: sa.engine.Engine, closed: bool = False, limit: int = 200) -> List[Item]:
    """Open items, most urgent then newest first (or the latest closed ones)."""
    create_tables(engine)
    query = sa.select(inbox_items)
    if closed:
        query = query.where(inbox_items.c.status == CLOSED).order_by(inbox_items.c.updated_at.desc())
    else:
        query = query.where(inbox_items.c.status.in_(OPEN)).order_by(
            inbox_items.c.level.desc(), inbox_items.c.raised_at.desc()
        )
    with engine.connect() as connection:
        return [_item(row) for row in connection.execute(query.limit(limit))]


def item(engine: sa.engine.Engine, item_id: int) -> Optional[Item]:
    with engine.connect() as connection:
        row = connection.execute(sa.select(inbox_items).where(inbox_items.c.id == item_id)).first()
    return _item(row) if row else None


Then = Optional[Callable[[sa.engine.Connection], None]]


def _change(engine: sa.engine.Engine, update: Any, refusal: str, then: Then) -> None:
    """One status change, and `then` (its audit entry) in the same transaction."""
    with engine.begin() as connection:
        if not connection.execute(update.values(updated_at=time.time())).rowcount:
            raise ItemConflict(refusal)
        if then:
            then(connection)


def claim(engine: sa.engine.Engine, item_id: int, username: str, then: Then = None) -> None:
    update = (
        inbox_items.update()
        .where(inbox_items.c.id == item_id)
        .where(sa.or_(inbox_items.c.status == NEW, inbox_items.c.claimed_by == username))
        .where(inbox_items.c.status != CLOSED)
        .values(status=CLAIMED, claimed_by=username)
    )
    _change(engine, update, "This item is claimed by someone else or closed.", then)


def release(engine: sa.engine.Engine, item_id: int, holder: str, then: Then = None) -> None:
    """Back to new, whoever held it (an item held by someone off shift must not wait for them), but only
    from the holder the releasing page showed: a stale page must not end a newer claim. An urgent item
    released is alerted about again."""
    update = (
        inbox_items.update()
        .where(inbox_items.c.id == item_id)
        .where(inbox_items.c.status == CLAIMED)
        .where(inbox_items.c.claimed_by == holder)
        .values(
            status=NEW,
            claimed_by=None,
            alerted_at=sa.case((inbox_items.c.level >= int(Level.URGENT), None), else_=inbox_items.c.alerted_at),
        )
    )
    _change(engine, update, "This item is no longer held by the person your page showed. Reload it.", then)


def close(engine: sa.engine.Engine, item_id: int, username: str, then: Then = None) -> None:
    update = (
        inbox_items.update()
        .where(inbox_items.c.id == item_id)
        .where(inbox_items.c.status == CLAIMED)
        .where(inbox_items.c.claimed_by == username)
        .values(status=CLOSED, closed_by=username)
    )
    _change(engine, update, "Claim this item before closing it.", then)


def conversation(engine: sa.engine.Engine, sender_id: str) -> List[Dict[str, Any]]:
    """The conversation's stored events, oldest first (patients' words already redacted)."""
    events = events_table(engine)
    if events is None:
        return []
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(events.c.data).where(events.c.sender_id == sender_id).order_by(events.c.id)
        ).all()
    return [json.loads(data) for (data,) in rows]
