"""The audit log: who signed in (from where), viewed, claimed, released, closed or exported what, and
what was refused. Conversations by their inbox pseudonym, never health data. Kept AUDIT_RETENTION_DAYS
(privacy/retention.py deletes older entries); admins read it. A change of an item and its entry are
written in one transaction (`record_in`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import List, Optional

import sqlalchemy as sa

from staff_inbox.tables import audit_log

SIGNED_IN, SIGN_IN_REFUSED, SIGNED_OUT = "signed_in", "sign_in_refused", "signed_out"
VIEWED_QUEUE, VIEWED, CLAIMED, CLOSED, VIEWED_AUDIT_LOG = (
    "viewed_queue",
    "viewed_conversation",
    "claimed",
    "closed",
    "viewed_audit_log",
)
EXPORTED, SENT_TO_FHIR, FHIR_SEND_FAILED = "exported_fhir", "sent_to_fhir", "fhir_send_failed"
RELEASED, REFUSED = "released", "refused"


@dataclass(frozen=True)
class Entry:
    at: float
    username: str
    action: str
    conversation: Optional[str]
    item_id: Optional[int]
    address: Optional[str]


def record_in(
    connection: sa.engine.Connection,
    username: str,
    action: str,
    conversation: Optional[str] = None,
    item_id: Optional[int] = None,
    address: Optional[str] = None,
    user_agent: Optional[str] = None,
) -> None:
    connection.execute(
        audit_log.insert().values(
            at=time.time(),
            username=username[:80],
            action=action,
            conversation=conversation,
            item_id=item_id,
            address=(address or "")[:64] or None,
            user_agent=(user_agent or "")[:200] or None,
        )
    )


def record(
    engine: sa.engine.Engine,
    username: str,
    action: str,
    conversation: Optional[str] = None,
    item_id: Optional[int] = None,
    address: Optional[str] = None,
    user_agent: Optional[str] = None,
) -> None:
    with engine.begin() as connection:
        record_in(connection, username, action, conversation, item_id, address, user_agent)


def entries(engine: sa.engine.Engine, limit: int = 500) -> List[Entry]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)).all()
    return [Entry(row.at, row.username, row.action, row.conversation, row.item_id, row.address) for row in rows]
