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

import json
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import sqlalchemy as sa

from clinical.self_check import RESULT_SLOT
from clinical.triage import Level
from staff_inbox.tables import create_tables, inbox_items, inbox_progress

HANDOFF, SELF_CHECK, ESCALATION = "handoff", "self_check", "escalation"
KIND_NAMES = {HANDOFF: "Asked for a person", SELF_CHECK: "Self-check", ESCALATION: "Red flag escalated"}
NEW, CLAIMED, CLOSED = "new", "claimed", "closed"
OPEN = (NEW, CLAIMED)
BATCH = 2000


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


def _events_table(engine: sa.engine.Engine) -> Optional[sa.Table]:
    if not sa.inspect(engine).has_table("events"):
        return None
    return sa.Table("events", sa.MetaData(), autoload_with=engine)


def _raised(row: Any) -> Optional[Tuple[str, Level]]:
    """The kind of item and the level this event raises, if it raises one."""
    if row.type_name == "user":
        return (HANDOFF, Level.SELF_CARE_INFO) if row.intent_name == "human_handoff" else None
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


def sync(engine: sa.engine.Engine, now: Optional[float] = None) -> int:
    """Read the events stored since the last sync into the queue; return how many items were raised."""
    create_tables(engine)
    events = _events_table(engine)
    if events is None:
        return 0
    now = time.time() if now is None else now
    raised = 0
    with engine.begin() as connection:
        progress = connection.execute(sa.select(inbox_progress.c.last_event_id)).scalar()
        last = progress or 0
        # Up to the newest event now: one stored while this runs is read by the next sync.
        newest = connection.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0
        while True:
            rows = connection.execute(
                sa.select(
                    events.c.id,
                    events.c.sender_id,
                    events.c.type_name,
                    events.c.intent_name,
                    events.c.timestamp,
                    events.c.data,
                )
                .where(events.c.id > last)
                .where(events.c.id <= newest)
                .where(
                    sa.or_(
                        sa.and_(events.c.type_name == "user", events.c.intent_name == "human_handoff"),
                        sa.and_(events.c.type_name == "slot", events.c.data.like(f'%"{RESULT_SLOT}"%')),
                    )
                )
                .order_by(events.c.id)
                .limit(BATCH)
            ).all()
            for row in rows:
                found = _raised(row)
                if found:
                    raised += _raise(connection, row, *found, now=now)
            if len(rows) < BATCH:
                break
            last = rows[-1].id
        if progress is None:
            connection.execute(inbox_progress.insert().values(id=1, last_event_id=newest))
        else:
            connection.execute(inbox_progress.update().values(last_event_id=newest))
    return raised


def _raise(connection: sa.engine.Connection, row: Any, kind: str, level: Level, now: float) -> int:
    existing = connection.execute(
        sa.select(inbox_items.c.id, inbox_items.c.level, inbox_items.c.status).where(
            inbox_items.c.sender_id == row.sender_id
        )
    ).all()
    highest = max([level] + [Level(item.level) for item in existing])
    # Every open item of this conversation moves up with it.
    connection.execute(
        inbox_items.update()
        .where(inbox_items.c.sender_id == row.sender_id)
        .where(inbox_items.c.status.in_(OPEN))
        .where(inbox_items.c.level < int(highest))
        .values(level=int(highest), updated_at=now)
    )
    already_open = connection.execute(
        sa.select(inbox_items.c.id)
        .where(inbox_items.c.sender_id == row.sender_id)
        .where(inbox_items.c.kind == kind)
        .where(inbox_items.c.status.in_(OPEN))
    ).first()
    if already_open:
        return 0
    connection.execute(
        inbox_items.insert().values(
            sender_id=row.sender_id,
            kind=kind,
            event_id=row.id,
            level=int(highest),
            raised_at=row.timestamp or now,
            status=NEW,
            updated_at=now,
        )
    )
    return 1


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


def claim(engine: sa.engine.Engine, item_id: int, username: str) -> None:
    with engine.begin() as connection:
        done = connection.execute(
            inbox_items.update()
            .where(inbox_items.c.id == item_id)
            .where(sa.or_(inbox_items.c.status == NEW, inbox_items.c.claimed_by == username))
            .where(inbox_items.c.status != CLOSED)
            .values(status=CLAIMED, claimed_by=username, updated_at=time.time())
        ).rowcount
    if not done:
        raise ItemConflict("This item is claimed by someone else or closed.")


def close(engine: sa.engine.Engine, item_id: int, username: str) -> None:
    with engine.begin() as connection:
        done = connection.execute(
            inbox_items.update()
            .where(inbox_items.c.id == item_id)
            .where(inbox_items.c.status == CLAIMED)
            .where(inbox_items.c.claimed_by == username)
            .values(status=CLOSED, closed_by=username, updated_at=time.time())
        ).rowcount
    if not done:
        raise ItemConflict("Claim this item before closing it.")


def conversation(engine: sa.engine.Engine, sender_id: str) -> List[Dict[str, Any]]:
    """The conversation's stored events, oldest first (patients' words already redacted)."""
    events = _events_table(engine)
    if events is None:
        return []
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(events.c.data).where(events.c.sender_id == sender_id).order_by(events.c.id)
        ).all()
    return [json.loads(data) for (data,) in rows]
