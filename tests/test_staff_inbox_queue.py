"""The inbox's queue sync, sessions and sign-in on SQLite, without servers: the cases a review found
(issue 12): late-committed events, re-reading without duplicates, a level that rises, lifetimes."""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from staff_inbox import accounts, queue, sessions
from staff_inbox.tables import inbox_items
from tests.staff_conversations import handoff_only, result, self_check_see_clinician, slot, store

pytestmark = pytest.mark.slow  # stores through Rasa's tracker store


def insert_event(engine: sa.engine.Engine, sender: str, event: dict) -> None:
    """An event written straight into Rasa's table, as a slow instance's commit arrives late."""
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name, data) "
                "VALUES (:s, :t, :ts, :i, NULL, :d)"
            ),
            {
                "s": sender,
                "t": event["event"],
                "ts": event["timestamp"],
                "i": (event.get("parse_data") or {}).get("intent", {}).get("name"),
                "d": json.dumps(event),
            },
        )


@pytest.fixture
def engine(tmp_path):
    now = time.time()
    store(tmp_path / "trackers.db", {"first": handoff_only(start=now - 100)})
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'trackers.db'}")
    yield engine
    engine.dispose()


def open_items(engine):
    with engine.connect() as connection:
        return [(r.sender_id, r.kind, r.level, r.status) for r in connection.execute(sa.select(inbox_items))]


def test_an_event_committed_late_with_an_earlier_time_is_still_read(engine):
    now = time.time()
    insert_event(engine, "recent", handoff_only(start=now - 5)[0])
    assert queue.sync(engine) == 2  # read up to five seconds ago
    # Another instance's turn, time-stamped a minute ago, committed only now.
    insert_event(engine, "late", handoff_only(start=now - 60)[0])
    assert queue.sync(engine) == 1
    assert ("late", queue.HANDOFF, 0, "new") in open_items(engine)


def test_re_reading_raises_nothing_twice_even_after_an_item_is_closed(engine):
    assert queue.sync(engine) == 1
    (item,) = queue.items(engine)
    queue.claim(engine, item.id, "alex")
    queue.close(engine, item.id, "alex")
    assert queue.sync(engine) == 0 and queue.sync(engine) == 0
    assert queue.items(engine) == []


def test_an_open_item_moves_up_and_is_alerted_again_when_the_conversation_becomes_an_emergency(engine):
    queue.sync(engine)
    with engine.begin() as connection:
        connection.execute(inbox_items.update().values(alerted_at=time.time()))
    escalation = slot("triage_result", result("red_flag_check", "emergency", ["chest pain"]), time.time())
    insert_event(engine, "first", escalation)
    assert queue.sync(engine) == 1  # the escalation's own item
    with engine.connect() as connection:
        rows = {r.kind: (r.level, r.alerted_at) for r in connection.execute(sa.select(inbox_items))}
    assert rows[queue.HANDOFF] == (3, None) and rows[queue.ESCALATION] == (3, None)


def test_a_self_check_of_another_conversation_is_its_own_item(engine, tmp_path):
    store(tmp_path / "trackers.db", {"second": self_check_see_clinician(start=time.time() - 50)})
    assert queue.sync(engine) == 2
    assert {(sender, kind) for sender, kind, _, _ in open_items(engine)} == {
        ("first", queue.HANDOFF),
        ("second", queue.SELF_CHECK),
    }
    assert queue.pseudonym(engine, "first") != queue.pseudonym(engine, "second")


def test_sessions_end_when_idle_or_too_old_and_a_new_sign_in_ends_the_old_one(engine, monkeypatch):
    monkeypatch.setenv("STAFF_SESSION_MINUTES", "30")
    monkeypatch.setenv("STAFF_SESSION_MAX_HOURS", "12")
    queue.sync(engine)  # creates the tables
    token = sessions.start(engine, "alex")
    start = time.time()
    for minutes in range(0, 13 * 60, 20):  # busy all day, never 30 minutes idle
        found = sessions.find(engine, token, now=start + minutes * 60)
        if minutes < 12 * 60:
            assert found is not None, minutes
    assert found is None  # after 12 hours, however busy
    idle = sessions.start(engine, "alex")
    assert sessions.find(engine, idle, now=time.time() + 31 * 60) is None
    first = sessions.start(engine, "alex")
    second = sessions.start(engine, "alex", replacing=first)
    assert sessions.find(engine, first) is None and sessions.find(engine, second) is not None


def test_the_sign_in_form_takes_back_only_a_token_it_issued():
    issued = sessions.sign_in_token()
    assert sessions.sign_in_token(issued) == issued and sessions.signed_by_us(issued)
    planted = "x" * 43
    assert sessions.sign_in_token(planted) != planted and not sessions.signed_by_us(planted)


def test_a_lock_holds_for_one_address_only(engine, monkeypatch):
    monkeypatch.setenv("STAFF_LOCKOUT_ATTEMPTS", "2")
    accounts.create_account(engine, "kim", "a long enough password", "staff")
    now = time.time()
    for _ in range(2):
        with pytest.raises(accounts.SignInRefused):
            accounts.sign_in(engine, "kim", "wrong", "203.0.113.9", now=now)
    with pytest.raises(accounts.SignInRefused):
        accounts.sign_in(engine, "kim", "a long enough password", "203.0.113.9", now=now)
    assert accounts.sign_in(engine, "kim", "a long enough password", "10.1.2.3", now=now).username == "kim"


def test_parallel_guesses_cannot_outrun_the_lock(engine, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("STAFF_LOCKOUT_ATTEMPTS", "3")
    accounts.create_account(engine, "kim", "a long enough password", "staff")

    def guess(password: str) -> bool:
        try:
            accounts.sign_in(engine, "kim", password, "203.0.113.9")
            return True
        except accounts.SignInRefused:
            return False

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(guess, ["wrong"] * 12 + ["a long enough password"]))
    assert results == [False] * 13  # the right password came after the limit: refused unchecked


def test_an_event_stamped_in_the_future_does_not_hide_the_next_ones(engine):
    now = time.time()
    insert_event(engine, "fast-clock", handoff_only(start=now + 900)[0])
    assert queue.sync(engine, now=now) == 2
    insert_event(engine, "next", handoff_only(start=now + 5)[0])
    assert queue.sync(engine, now=now + 10) == 1


def test_a_stale_page_cannot_release_a_newer_claim(engine):
    queue.sync(engine)
    (item,) = queue.items(engine)
    queue.claim(engine, item.id, "carol")
    with pytest.raises(queue.ItemConflict):
        queue.release(engine, item.id, "alex")  # the page showed alex's earlier claim
    queue.release(engine, item.id, "carol")
    assert queue.item(engine, item.id).status == queue.NEW


def test_a_sign_in_token_expires_after_an_hour():
    issued = sessions.sign_in_token(now=1000.0)
    assert sessions.signed_by_us(issued, now=1000.0 + 3599)
    assert not sessions.signed_by_us(issued, now=1000.0 + 3601)
