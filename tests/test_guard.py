"""The patient guard around every channel (channels/guard.py) and its rate limit, with a stand-in
dialogue: what is refused politely, and that the patient is never left in silence."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from channels.guard import SERVICE_REPLIES, PatientGuard, ServiceReplies
from channels.rate_limit import RateLimiter, parse_windows, within
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def replies():
    from rasa.shared.core.domain import Domain

    return ServiceReplies(Domain.load(str(ROOT / "domain")), max_chars=50)


def flags_nothing(text: str) -> bool:
    return False


def guard_for(replies, **kwargs) -> PatientGuard:
    defaults = {"rate_limit": "1000/60", "redis_url": "", "max_chars": 50, "deadline": 1.0, "screen": flags_nothing}
    return PatientGuard(replies, **{**defaults, **kwargs})


class Dialogue:
    """Stands in for Rasa's message handler: answers, stays silent, raises or takes its time."""

    def __init__(self, behaviour: str = "answer", delay: float = 0.0) -> None:
        self.behaviour, self.delay = behaviour, delay
        self.seen: List[str] = []
        self.finished = asyncio.Event()

    async def __call__(self, message: UserMessage) -> None:
        self.seen.append(message.text)
        await asyncio.sleep(self.delay)
        if self.behaviour == "raise":
            raise RuntimeError(f"something failed while reading {message.text}")
        if self.behaviour == "answer":
            await message.output_channel.send_response(message.sender_id, {"text": f"answer to {message.text}"})
        self.finished.set()


def run(guard: PatientGuard, dialogue: Dialogue, text: str, sender: str = "patient-1") -> List[Dict[str, Any]]:
    async def turn() -> List[Dict[str, Any]]:
        output = CollectingOutputChannel()
        await guard.wrap(dialogue)(UserMessage(text, output, sender, input_channel="rest"))
        return output.messages

    return asyncio.run(turn())


def test_a_normal_message_reaches_the_dialogue(replies):
    dialogue = Dialogue()
    assert [m["text"] for m in run(guard_for(replies), dialogue, "my knee hurts")] == ["answer to my knee hurts"]
    assert dialogue.seen == ["my knee hurts"]


@pytest.mark.parametrize(
    "text, reply",
    [
        ("", "utter_empty_message"),
        ("   \n\t ", "utter_empty_message"),
        ("x" * 51, "utter_message_too_long"),
    ],
)
def test_empty_and_too_long_messages_are_answered_not_processed(replies, text, reply):
    dialogue = Dialogue()
    messages = run(guard_for(replies), dialogue, text)
    assert [m["text"] for m in messages] == [replies[reply]] and dialogue.seen == []


def test_the_too_long_reply_says_the_limit(replies):
    assert "50 characters" in replies["utter_message_too_long"]


def test_a_patient_over_the_rate_limit_is_asked_to_slow_down_and_others_are_not(replies):
    guard, dialogue = guard_for(replies, rate_limit="3/60"), Dialogue()
    answers = [run(guard, dialogue, f"message {n}")[0]["text"] for n in range(5)]
    assert answers[:3] == [f"answer to message {n}" for n in range(3)]
    assert answers[3:] == [replies["utter_slow_down"]] * 2
    assert run(guard, dialogue, "hello", sender="patient-2")[0]["text"] == "answer to hello"


@pytest.mark.parametrize("behaviour", ["silent", "raise"])
def test_a_dialogue_that_sends_nothing_or_fails_still_gets_a_reply(replies, behaviour):
    messages = run(guard_for(replies), Dialogue(behaviour), "how much does it cost?")
    assert [m["text"] for m in messages] == [replies["utter_unavailable"]]


def test_a_slow_turn_is_answered_at_the_deadline_and_still_finishes(replies):
    async def scenario():
        guard, dialogue = guard_for(replies, deadline=0.2), Dialogue(delay=0.6)
        output = CollectingOutputChannel()
        started = asyncio.get_running_loop().time()
        await guard.wrap(dialogue)(UserMessage("slow question", output, "patient-1"))
        answered_after = asyncio.get_running_loop().time() - started
        first = [m["text"] for m in output.messages]
        await asyncio.wait_for(dialogue.finished.wait(), 2)  # the turn went on in the background
        return answered_after, first, [m["text"] for m in output.messages]

    answered_after, first, finally_sent = asyncio.run(scenario())
    assert answered_after < 0.5 and first == [replies["utter_unavailable"]]
    assert finally_sent == [replies["utter_unavailable"], "answer to slow question"]


def test_the_service_replies_name_the_clinic_and_no_emergency_number(replies):
    assert "{" not in replies["utter_unavailable"] and "(555) 010-0100" in replies["utter_unavailable"]
    for name in SERVICE_REPLIES:
        assert "911" not in replies[name]
    assert "emergency services now" in replies["utter_busy"]


class Held(Dialogue):
    """A dialogue that answers only once released: turns stay in flight as long as the test wants."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def __call__(self, message: UserMessage) -> None:
        self.seen.append(message.text)
        await self.release.wait()
        await message.output_channel.send_response(message.sender_id, {"text": f"answer to {message.text}"})


class MarkingOutput(CollectingOutputChannel):
    """An output that marks the busy reply, as the widget's and the REST channel's do."""

    async def send_busy_reply(self, recipient_id: str, text: str, metadata: Dict[str, Any]) -> None:
        await self._persist_message({"recipient_id": recipient_id, "text": text, "busy": True})


def test_beyond_the_turns_in_flight_a_message_is_answered_busy_at_once_and_never_read(replies):
    async def scenario():
        guard, dialogue = guard_for(replies, max_in_flight=2, deadline=30.0), Held()
        outputs = [CollectingOutputChannel(), CollectingOutputChannel(), CollectingOutputChannel(), MarkingOutput()]
        turns = [
            asyncio.ensure_future(guard.wrap(dialogue)(UserMessage(f"question {n}", output, f"patient-{n}")))
            for n, output in enumerate(outputs)
        ]
        await asyncio.wait(turns[2:], timeout=5)  # the two over the bound are answered while two are held
        refused_at_once = all(turn.done() for turn in turns[2:]) and guard.in_flight == 2
        dialogue.release.set()
        await asyncio.wait_for(asyncio.gather(*turns[:2]), 5)
        return refused_at_once, outputs, dialogue.seen, guard

    refused_at_once, outputs, seen, guard = asyncio.run(scenario())
    assert refused_at_once and seen == ["question 0", "question 1"]
    assert [m["text"] for m in outputs[0].messages] == ["answer to question 0"]
    assert outputs[2].messages == [{"recipient_id": "patient-2", "text": replies["utter_busy"]}]
    assert outputs[3].messages == [{"recipient_id": "patient-3", "text": replies["utter_busy"], "busy": True}]
    # Once the turns are over, the next message is admitted again.
    assert guard.in_flight == 0 and guard.busy_replies == 2
    assert [m["text"] for m in run(guard, Dialogue(), "question 4")] == ["answer to question 4"]


def test_over_the_bound_a_possible_emergency_is_read_all_the_same(replies):
    """The screen (the red-flag classifier, in the server) says which messages may be emergencies."""

    async def scenario():
        guard = guard_for(replies, max_in_flight=1, deadline=30.0, screen=lambda text: "can't breathe" in text)
        dialogue = Held()
        held = asyncio.ensure_future(guard.wrap(dialogue)(UserMessage("a question", CollectingOutputChannel(), "p1")))
        await asyncio.sleep(0)
        outputs = [CollectingOutputChannel(), CollectingOutputChannel()]
        busy = guard.wrap(dialogue)(UserMessage("how much is it?", outputs[0], "p2"))
        emergency = guard.wrap(dialogue)(UserMessage("my calf is swollen and I can't breathe", outputs[1], "p3"))
        await busy
        emergency_turn = asyncio.ensure_future(emergency)
        await asyncio.sleep(0.05)
        dialogue.release.set()
        await asyncio.wait_for(asyncio.gather(held, emergency_turn), 5)
        return outputs, dialogue.seen, guard

    outputs, seen, guard = asyncio.run(scenario())
    assert [m["text"] for m in outputs[0].messages] == [replies["utter_busy"]]
    assert [m["text"] for m in outputs[1].messages] == ["answer to my calf is swollen and I can't breathe"]
    assert seen == ["a question", "my calf is swollen and I can't breathe"]
    assert guard.admitted_past_the_bound == 1 and guard.in_flight == 0


def test_a_screen_that_fails_lets_the_message_through(replies):
    def broken(text: str) -> bool:
        raise RuntimeError("no model")

    guard = guard_for(replies, max_in_flight=1, screen=broken)
    guard.in_flight = 1  # as if a turn were going
    dialogue = Dialogue()
    assert [m["text"] for m in run(guard, dialogue, "hello")] == ["answer to hello"]


def test_the_bound_is_at_least_one(replies):
    with pytest.raises(ValueError):
        guard_for(replies, max_in_flight=0)


def test_a_turn_past_its_deadline_still_counts_until_it_ends(replies):
    async def scenario():
        guard, dialogue = guard_for(replies, max_in_flight=1, deadline=0.1), Held()
        first = CollectingOutputChannel()
        await guard.wrap(dialogue)(UserMessage("slow", first, "patient-1"))  # answered 'unavailable' at 0.1 s
        second = CollectingOutputChannel()
        await guard.wrap(dialogue)(UserMessage("next", second, "patient-2"))
        dialogue.release.set()
        await asyncio.sleep(0.05)
        return [m["text"] for m in second.messages], guard.in_flight

    second, in_flight = asyncio.run(scenario())
    assert second == [replies["utter_busy"]] and in_flight == 0


def test_rate_windows():
    assert parse_windows("30/60; 10/5") == [(30, 60.0), (10, 5.0)]
    with pytest.raises(ValueError):
        parse_windows(" ; ")
    assert within([1.0, 2.0], [(3, 10)], now=5.0) and not within([1.0, 2.0, 3.0], [(3, 10)], now=5.0)
    assert within([1.0, 2.0, 3.0], [(3, 10)], now=12.5)  # two of them left the window


def test_the_in_memory_limiter_forgets_old_messages():
    clock = iter([0.0, 1.0, 2.0, 70.0]).__next__
    limiter = RateLimiter("2/60", clock=clock)
    assert [limiter.allow("p") for _ in range(4)] == [True, True, False, True]
