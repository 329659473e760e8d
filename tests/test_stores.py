"""The tracker store and the lock store against real PostgreSQL and Redis (Debian's, on loopback):
redaction before storage, riding out a database or Redis restart, tickets that stay unique when
several instances take them at once, and the retention job."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from typing import Optional

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from harness.services import PostgreSQL, Redis
from privacy.retention import delete_quiet_conversations
from stores.lock_store import ConversationLockStore, RedisTicketLockStore
from stores.tracker_store import PrivateTrackerStore, TrackerStoreUnavailable
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

PII_MESSAGE = "I'm Anna. My name is Anna Berg, call me on 07700 900123 or anna.berg@example.com, born 12/03/1961"


@pytest.fixture(scope="module")
def domain():
    return Domain.load(str(ROOT / "domain"))


@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    server = PostgreSQL(tmp_path_factory.mktemp("pg")).start()
    yield server
    server.remove()


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = Redis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def pg_store(postgres, domain, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", postgres.url)
    return PrivateTrackerStore(domain)


def conversation(sender: str, *texts: str, at: Optional[float] = None) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, [])
    for text in texts:
        tracker.update(
            UserUttered(
                text,
                {"name": "greet", "confidence": 1.0},
                parse_data={
                    "text": text,
                    "intent": {"name": "greet"},
                    "entities": [{"entity": "x", "value": text, "start": 0, "end": len(text)}],
                },
                timestamp=at,
            )
        )
        tracker.update(ActionExecuted("utter_greet", timestamp=at))
        tracker.update(BotUttered("Hello!", timestamp=at))
    return tracker


def stored_rows(postgres, sender):
    return [
        json.loads(data)
        for (data,) in postgres.query("SELECT data FROM events WHERE sender_id = %s ORDER BY id", sender)
    ]


def test_messages_are_redacted_before_they_are_stored(pg_store, postgres):
    asyncio.run(pg_store.save(conversation("redact-1", PII_MESSAGE)))
    raw = json.dumps(stored_rows(postgres, "redact-1"))
    for secret in ("07700", "anna.berg@", "Berg", "1961"):
        assert secret not in raw
    user = next(e for e in stored_rows(postgres, "redact-1") if e["event"] == "user")
    assert "[phone]" in user["text"] and "[email]" in user["text"] and user["parse_data"]["text"] == user["text"]
    assert user["parse_data"]["entities"][0]["value"] == user["text"]
    assert "Hello!" in raw  # the assistant's own words are kept


def test_the_sqlite_default_redacts_too(domain, tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("TRACKER_DB", str(tmp_path / "trackers.db"))
    store = PrivateTrackerStore(domain)
    assert store.engine.dialect.name == "sqlite"
    asyncio.run(store.save(conversation("sqlite-1", PII_MESSAGE)))
    rows = sqlite3.connect(tmp_path / "trackers.db").execute("SELECT data FROM events").fetchall()
    assert len(rows) == 3 and "07700" not in "".join(data for (data,) in rows)


def test_an_event_broker_would_get_the_redacted_events_too(domain, tmp_path, monkeypatch):
    from rasa.core.brokers.broker import EventBroker

    class Collecting(EventBroker):
        def __init__(self):
            self.published = []

        def publish(self, event):
            self.published.append(event)

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("TRACKER_DB", str(tmp_path / "trackers.db"))
    broker = Collecting()
    asyncio.run(PrivateTrackerStore(domain, event_broker=broker).save(conversation("broker-1", PII_MESSAGE)))
    assert len(broker.published) == 3 and "07700" not in json.dumps(broker.published)


def test_a_database_restart_between_turns_loses_nothing(pg_store, postgres):
    asyncio.run(pg_store.save(conversation("restart-1", "first")))
    postgres.restart()  # the store's pooled connections are now dead
    tracker = asyncio.run(pg_store.retrieve("restart-1"))
    tracker.update(UserUttered("second", {"name": "greet"}))
    asyncio.run(pg_store.save(tracker))
    assert [e["text"] for e in stored_rows(postgres, "restart-1") if e["event"] == "user"] == ["first", "second"]


def test_a_database_down_while_a_turn_is_saved_is_waited_for(pg_store, postgres):
    postgres.stop()
    threading.Timer(1.5, postgres.start).start()
    started = time.monotonic()
    asyncio.run(pg_store.save(conversation("outage-1", "during the outage")))
    assert time.monotonic() - started >= 1.0
    assert len(stored_rows(postgres, "outage-1")) == 3


def test_a_database_down_for_too_long_fails_without_sql_or_data_in_the_error(pg_store, postgres, monkeypatch):
    monkeypatch.setenv("DB_RETRY_SECONDS", "1")
    postgres.stop()
    try:
        with pytest.raises(TrackerStoreUnavailable) as error:
            asyncio.run(pg_store.save(conversation("outage-2", PII_MESSAGE)))
        assert "INSERT" not in str(error.value) and "07700" not in str(error.value)
    finally:
        postgres.start()


def test_the_lock_store_follows_the_environment(redis_server, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert type(ConversationLockStore()).__name__ == "InMemoryLockStore"
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    assert isinstance(ConversationLockStore(), RedisTicketLockStore)


def test_tickets_taken_at_once_by_several_instances_are_all_distinct(redis_server):
    instances = [RedisTicketLockStore(redis_server.url) for _ in range(4)]
    tickets, start = [], threading.Barrier(40)

    def take(store):
        start.wait()
        tickets.append(store.issue_ticket("busy-conversation"))

    threads = [threading.Thread(target=take, args=(instances[n % 4],)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(tickets) == list(range(40))
    assert len(instances[0].get_lock("busy-conversation").tickets) == 40
    for ticket in tickets:
        instances[1].cleanup("busy-conversation", ticket)
    assert instances[2].get_lock("busy-conversation") is None


def test_turns_of_one_conversation_on_two_instances_never_overlap(redis_server):
    first, second = RedisTicketLockStore(redis_server.url), RedisTicketLockStore(redis_server.url)
    spans = []

    async def turn(store, number):
        async with store.lock("one-conversation"):
            began = time.monotonic()
            await asyncio.sleep(0.05)
            spans.append((began, time.monotonic(), number))

    async def many():
        await asyncio.gather(*(turn(first if n % 2 else second, n) for n in range(12)))

    asyncio.run(many())
    spans.sort()
    assert len(spans) == 12
    assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:]))


def test_a_redis_restart_is_ridden_out_by_a_waiting_turn(redis_server):
    store = RedisTicketLockStore(redis_server.url)
    redis_server.stop()
    threading.Timer(1.0, redis_server.start).start()

    async def turn():
        async with store.lock("restart-conversation") as lock:
            return lock.conversation_id

    assert asyncio.run(turn()) == "restart-conversation"
    assert store.get_lock("restart-conversation") is None


def test_options_offered_by_one_instance_are_understood_by_another(redis_server):
    from channels.text_options import OfferedOptions

    buttons = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
    OfferedOptions(redis_url=redis_server.url).remember("sms-abc", buttons)
    other_instance = OfferedOptions(redis_url=redis_server.url)
    assert other_instance.resolve("sms-abc", "2") == "/deny" and other_instance.resolve("sms-other", "2") == "2"


def test_offered_options_with_redis_down_leave_the_reply_as_it_is(redis_server):
    from channels.text_options import OfferedOptions

    offers = OfferedOptions(redis_url=redis_server.url)
    redis_server.stop()
    try:
        offers.remember("sms-down", [{"title": "Yes", "payload": "/affirm"}])
        assert offers.resolve("sms-down", "1") == "1"
    finally:
        redis_server.start()


def test_retention_deletes_quiet_conversations_whole_and_keeps_active_ones(pg_store, postgres):
    now = time.time()
    old = conversation("quiet-1", "long ago", at=now - 40 * 86400)
    asyncio.run(pg_store.save(old))
    mixed = conversation("active-1", "long ago", at=now - 40 * 86400)
    mixed.update(UserUttered("yesterday", {"name": "greet"}, timestamp=now - 86400))
    asyncio.run(pg_store.save(mixed))
    assert delete_quiet_conversations(pg_store.engine, days=30, now=now) >= 1
    assert stored_rows(postgres, "quiet-1") == []
    assert len(stored_rows(postgres, "active-1")) == 4  # a conversation in use keeps its beginning


def test_retention_on_sqlite(domain, tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("TRACKER_DB", str(tmp_path / "trackers.db"))
    store = PrivateTrackerStore(domain)
    now = time.time()
    asyncio.run(store.save(conversation("old", "hello", at=now - 10 * 86400)))
    asyncio.run(store.save(conversation("new", "hello", at=now - 3600)))
    from privacy.retention import main

    assert delete_quiet_conversations(store.engine, days=7, now=now) == 1
    senders = {s for (s,) in sqlite3.connect(tmp_path / "trackers.db").execute("SELECT sender_id FROM events")}
    assert senders == {"new"}
    assert main(["--days", "0"]) == 0  # the command line deletes the rest
    assert sqlite3.connect(tmp_path / "trackers.db").execute("SELECT count(*) FROM events").fetchone() == (0,)
