"""The staff inbox on the real assistant's database: what patients say over a channel reaches the
queue, with its summary, without the Rasa servers writing anything for the inbox."""

from __future__ import annotations

import pytest

from harness.servers import StaffInbox
from tests.staff_client import StaffBrowser, item_ids, queue_rows

pytestmark = pytest.mark.slow

PASSWORD = "a long enough password"


@pytest.fixture(scope="module")
def inbox(assistant, tmp_path_factory):
    running = StaffInbox(tmp_path_factory.mktemp("staff-inbox-e2e"), assistant.tracker_db)
    running.create_account("alex", PASSWORD, "staff")
    yield running.start()
    running.stop()


def test_a_request_for_a_person_and_an_emergency_reach_the_queue_with_their_summary(assistant, inbox):
    assistant.say("e2e-handoff", "what is osteoarthritis?")
    assistant.say("e2e-handoff", "can I talk to a real person please")
    replies = assistant.say("e2e-emergency", "I fell down the stairs and now my knee is bent the wrong way")
    assert "911" in replies[0]["text"]

    alex = StaffBrowser(inbox.url)
    assert alex.sign_in("alex", PASSWORD).status_code == 303
    queue = alex.get("/queue").text
    rows = queue_rows(queue)
    assert rows == [("emergency", "Red flag escalated"), ("self_care_info", "Asked for a person")], rows

    emergency, handoff = item_ids(queue)
    summary = alex.get(f"/items/{emergency}").text
    assert "I fell down the stairs and now my knee is bent the wrong way" in summary
    assert "<strong>Emergency</strong>" in summary and "web (REST)" in summary
    summary = alex.get(f"/items/{handoff}").text
    assert "to talk to a person" in summary, summary
    assert "What is knee osteoarthritis?" in summary, summary
