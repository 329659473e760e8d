"""The audit log: who signed in, viewed, claimed or closed what, and when. Ids only, never health
data. Kept AUDIT_RETENTION_DAYS (privacy/retention.py deletes older entries); admins read it."""

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


@dataclass(frozen=True)
class Entry:
    at: float
    username: str
    action: str
    sender_id: Optional[str]
    item_id: Optional[int]


def record(
    engine: sa.engine.Engine,
    username: str,
    action: str,
    sender_id: Optional[str] = None,
    item_id: Optional[int] = None,
) -> None:
    with engine.begin() as connection:
        connection.execute(
            audit_log.insert().values(
                at=time.time(), username=username, action=action, sender_id=sender_id, item_id=item_id
            )
        )


def entries(engine: sa.engine.Engine, limit: int = 500) -> List[Entry]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)).all()
    return [Entry(row.at, row.username, row.action, row.sender_id, row.item_id) for row in rows]
