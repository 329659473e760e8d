"""The staff inbox on PostgreSQL, as in production (deploy/): the queue read from Rasa's events there,
claim and close, the audit log, and the retention job deleting a conversation's items with it."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from harness.servers import StaffInbox
from harness.services import PostgreSQL
from tests.staff_client import StaffBrowser, item_ids, queue_rows
from tests.staff_conversations import (
    QUEUE_OF_THE_THREE,
    emergency_after_a_fall,
    handoff_only,
    self_check_see_clinician,
    store,
)

pytestmark = pytest.mark.slow
PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    server = PostgreSQL(tmp_path_factory.mktemp("pg-inbox")).start()
    yield server
    server.remove()


def test_the_inbox_works_on_postgresql_and_retention_clears_it(postgres, tmp_path, monkeypatch):
    now = time.time()
    store(
        tmp_path / "unused.db",
        {
            "pg-emergency": emergency_after_a_fall(start=now - 600),
            "pg-self-check": self_check_see_clinician(start=now - 300),
            "pg-old": handoff_only(start=now - 60 * 86400),
        },
        database_url=postgres.url,
    )
    inbox = StaffInbox(tmp_path, tmp_path / "unused.db", database_url=postgres.url)
    inbox.create_account("alex", PASSWORD, "staff")
    inbox.start()
    try:
        alex = StaffBrowser(inbox.url)
        assert alex.sign_in("alex", PASSWORD).status_code == 303
        queue = alex.get("/queue").text
        rows = queue_rows(queue)
        assert rows == QUEUE_OF_THE_THREE, rows
        first = item_ids(queue)[0]
        assert "i fell off a ladder" in alex.get(f"/items/{first}").text
        assert alex.post(f"/items/{first}/claim").status_code == 303
        assert alex.post(f"/items/{first}/close").status_code == 303
    finally:
        inbox.stop()
    assert postgres.query("SELECT status, claimed_by, closed_by FROM inbox_items WHERE id = %s", first) == [
        ("closed", "alex", "alex")
    ]
    actions = [row[0] for row in postgres.query("SELECT action FROM audit_log ORDER BY id")]
    assert actions[:1] == ["signed_in"] and {"viewed_conversation", "claimed", "closed"} <= set(actions)

    from privacy import retention

    monkeypatch.setenv("DATABASE_URL", postgres.url)
    assert retention.main([]) == 0
    senders = {row[0] for row in postgres.query("SELECT DISTINCT sender_id FROM inbox_items")}
    assert senders == {"pg-emergency", "pg-self-check"}
    engine = sa.create_engine(postgres.url)
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM events WHERE sender_id = 'pg-old'")).scalar() == 0
    engine.dispose()
