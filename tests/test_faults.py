"""Faults under a live conversation, on the production layout (two instances behind nginx, PostgreSQL,
Redis; harness/services.py): the action server down or slow, a Rasa server restarted, PostgreSQL or
Redis restarted. The patient always gets a reply within seconds, an emergency is still answered with
the emergency number, and no message is lost: every message sent is stored exactly once."""

from __future__ import annotations

import threading
import time
from typing import Dict, List

import pytest
import requests

from harness.patients import NOTHING_WRONG, SERVICE_TEXTS, asked, is_emergency, is_unavailable, new_sender, texts
from harness.servers import Assistant, tarpit
from harness.services import Cluster

pytestmark = pytest.mark.slow

QUESTIONS = [
    "How much does stem cell therapy cost?",
    "what is knee osteoarthritis?",
    "is it safe?",
    "what causes knee pain?",
    "how is the procedure done?",
]
EMERGENCY = "I fell and my knee is bent the wrong way, I can see the bone"
MIN_MESSAGES = 3  # per background patient: a fault must meet traffic before and after it


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    # Background patients send faster than people: harness.servers gives every test server a relaxed
    # rate limit, which the traffic here relies on.
    running = Cluster(tmp_path_factory.mktemp("faults"), instances=2).start()
    yield running
    running.stop()


class Traffic:
    """Patients talking through nginx in the background, one message every ~0.6 s each."""

    def __init__(self, cluster: Cluster, patients: int = 3) -> None:
        self.cluster = cluster
        self.senders = [new_sender("traffic") for _ in range(patients)]
        self.sent: Dict[str, int] = {sender: 0 for sender in self.senders}
        self.problems: List[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._talk, args=(sender,)) for sender in self.senders]

    def _talk(self, sender: str) -> None:
        n = 0
        while not self._stop.is_set():
            message = QUESTIONS[n % len(QUESTIONS)]
            n += 1
            try:
                replies = self.cluster.say(sender, message, timeout=60)
                self.sent[sender] += 1
                if not replies or set(texts(replies)) & set(SERVICE_TEXTS.values()) or is_unavailable(replies):
                    self.problems.append(f"{sender} #{n}: {texts(replies)}")
            except requests.RequestException as error:
                self.problems.append(f"{sender} #{n}: {type(error).__name__} {error}")
            self._stop.wait(0.6)

    def __enter__(self) -> "Traffic":
        for thread in self._threads:
            thread.start()
        # The fault must meet traffic: every patient has had a reply before it, however slow the machine.
        assert self._wait_until(lambda: all(self.sent[s] >= 1 for s in self.senders)), "no traffic before the fault"
        return self

    def _wait_until(self, condition, timeout: float = 120) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    def __exit__(self, *exc) -> None:
        # Enough traffic whatever the machine's speed: every patient gets at least two more replies
        # after the fault, and three in all, before the talk stops (a turn that waited out the
        # outage may have taken many seconds).
        after_fault = dict(self.sent)
        self._wait_until(lambda: all(self.sent[s] >= max(MIN_MESSAGES, after_fault[s] + 2) for s in self.senders))
        self._stop.set()
        for thread in self._threads:
            thread.join()

    def check_nothing_lost(self) -> None:
        assert self.problems == []
        for sender, count in self.sent.items():
            stored = [e for e in self.cluster.stored_events(sender) if e["event"] == "user"]
            assert count >= MIN_MESSAGES and len(stored) == count, sender


def test_postgresql_restarted_under_traffic(cluster):
    with Traffic(cluster) as traffic:
        cluster.postgres.restart()
        time.sleep(1)
        cluster.postgres.stop()
        time.sleep(3)  # a longer outage: turns wait for the database instead of failing
        cluster.postgres.start()
    traffic.check_nothing_lost()


def test_redis_restarted_under_traffic(cluster):
    with Traffic(cluster) as traffic:
        cluster.redis.restart()
        time.sleep(1)
        cluster.redis.stop()
        time.sleep(3)
        cluster.redis.start()
    traffic.check_nothing_lost()


def test_rasa_servers_restarted_one_after_the_other_under_traffic(cluster):
    with Traffic(cluster) as traffic:
        for instance in cluster.instances:
            instance.rasa.stop()
            time.sleep(1)
            instance.start_rasa()
    traffic.check_nothing_lost()


def test_a_self_check_carries_on_after_every_rasa_server_restarted(cluster):
    sender = new_sender("restart")
    replies = cluster.say(sender, "check my symptoms")
    first = asked(replies)
    replies = cluster.say(sender, NOTHING_WRONG[first])
    second = asked(replies)
    assert first and second and second != first
    for instance in cluster.instances:
        instance.rasa.stop()
    for instance in cluster.instances:
        instance.launch_rasa()
    for instance in cluster.instances:
        instance.wait_for_rasa()
    replies = cluster.say(sender, NOTHING_WRONG[second])
    assert asked(replies) not in (None, first, second)  # the next question: the form went on from PostgreSQL


def test_action_servers_down_a_reply_within_seconds_and_emergencies_still_answered(cluster):
    for instance in cluster.instances:
        instance.actions.stop()
    try:
        started = time.monotonic()
        replies = cluster.say(new_sender("no-actions"), "How much does stem cell therapy cost?")
        assert time.monotonic() - started < 5 and is_unavailable(replies)
        replies = cluster.say(new_sender("no-actions"), EMERGENCY)
        assert is_emergency(texts(replies)[0])
    finally:
        for instance in cluster.instances:
            instance.start_actions()
    assert not is_unavailable(cluster.say(new_sender("actions-back"), "How much does stem cell therapy cost?"))


@pytest.fixture(scope="module")
def assistant_with_a_slow_action_server(tmp_path_factory):
    with tarpit() as url:
        running = Assistant(tmp_path_factory.mktemp("slow-actions"), extra_env={"ACTIONS_URL": url})
        running.start_rasa()
        yield running
        running.stop()


@pytest.mark.parametrize("message", ["How much does stem cell therapy cost?", "check my symptoms"])
def test_a_slow_action_server_is_given_up_on_within_seconds(assistant_with_a_slow_action_server, message):
    started = time.monotonic()
    replies = assistant_with_a_slow_action_server.say(new_sender("slow"), message)
    assert time.monotonic() - started < 9 and is_unavailable(replies)


def test_an_emergency_with_a_slow_action_server_is_answered_first(assistant_with_a_slow_action_server):
    started = time.monotonic()
    replies = assistant_with_a_slow_action_server.say(new_sender("slow"), EMERGENCY)
    assert time.monotonic() - started < 9 and is_emergency(texts(replies)[0])


@pytest.fixture(scope="module")
def overloaded_assistant(tmp_path_factory):
    """Room for one turn at a time (MAX_TURNS_IN_FLIGHT=1), and an action server that never answers: a
    question that needs a custom action holds that room for ACTION_TIMEOUT_SECONDS, under the guard's
    TURN_DEADLINE_SECONDS (8), so that the reply to it comes once the turn is over."""
    with tarpit() as url:
        running = Assistant(
            tmp_path_factory.mktemp("overload"),
            extra_env={"ACTIONS_URL": url, "MAX_TURNS_IN_FLIGHT": "1", "ACTION_TIMEOUT_SECONDS": "6"},
        )
        running.start_rasa()
        yield running
        running.stop()


def stored_user_texts(assistant: Assistant, sender: str) -> List[str]:
    import json
    import sqlite3

    with sqlite3.connect(assistant.tracker_db) as db:
        rows = db.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id", (sender,)
        ).fetchall()
    return [json.loads(data)["text"] for (data,) in rows]


def test_beyond_its_turns_in_flight_a_server_answers_busy_while_the_turn_goes_on_and_keeps_nothing(
    overloaded_assistant,
):
    from concurrent.futures import ThreadPoolExecutor

    held_sender, busy_sender = new_sender("held"), new_sender("busy")
    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(overloaded_assistant.say, held_sender, "How much does stem cell therapy cost?")
        time.sleep(2)  # the guard admits a turn before reading it; the action server holds it for 6 s
        replies = overloaded_assistant.say(busy_sender, "what is cartilage?")
        answered_while_held = not held.done()
        held.result(timeout=60)
    assert answered_while_held
    assert replies == [{"recipient_id": busy_sender, "text": SERVICE_TEXTS["utter_busy"], "busy": True}]
    assert stored_user_texts(overloaded_assistant, busy_sender) == []
    # With the room free again, the same patient is answered (the greeting needs no action server).
    assert not any(reply.get("busy") for reply in overloaded_assistant.say(busy_sender, "hello"))
    assert stored_user_texts(overloaded_assistant, busy_sender) == ["hello"]


def test_beyond_its_turns_in_flight_an_emergency_still_gets_the_emergency_reply_first(overloaded_assistant):
    """The red-flag classifier reads a message the server would refuse as busy (clinical/red_flag_model.py)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(overloaded_assistant.say, new_sender("held"), "How much does stem cell therapy cost?")
        time.sleep(2)  # the only room is taken, for 6 s
        busy = overloaded_assistant.say(new_sender("busy"), "is it painful?")
        sent_while_held = not held.done()
        # Its turn then waits for the action server too (the follow-up), so the reply comes late.
        replies = overloaded_assistant.say(new_sender("emergency"), EMERGENCY)
        held.result(timeout=60)
    assert sent_while_held and texts(busy) == [SERVICE_TEXTS["utter_busy"]]
    assert is_emergency(texts(replies)[0])
