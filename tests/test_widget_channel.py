"""The widget's socket.io output (channels/socketio.py): each message of an emergency reply carries
the number to call, read from the domain; no other message does."""

from __future__ import annotations

import asyncio
from typing import Any, List, Tuple

import pytest
from rasa.shared.core.domain import Domain

from channels.clinic_domain import EmergencyCall, project_domain
from channels.socketio import WidgetOutput
from harness.domain import load_domain


class RecordingSocketServer:
    def __init__(self) -> None:
        self.emitted: List[Tuple[str, Any, str]] = []

    async def emit(self, event: str, data: Any, room: str) -> None:
        self.emitted.append((event, data, room))


def sent(emergency: EmergencyCall, message: dict) -> List[dict]:
    sio = RecordingSocketServer()
    asyncio.run(WidgetOutput(sio, "bot_uttered", emergency).send_response("patient-1", dict(message)))
    assert {(event, room) for event, _, room in sio.emitted} == {("bot_uttered", "patient-1")}
    return [data for _, data, _ in sio.emitted]


def test_the_emergency_replies_are_the_responses_that_name_the_number():
    emergency = EmergencyCall.from_domain(project_domain())
    assert emergency.number == load_domain()["slots"]["emergency_number"]["initial_value"]
    assert emergency.responses == {
        "utter_emergency",
        "utter_emergency_crisis",
        "utter_language_not_read",
        "utter_level_emergency",
    }


def test_every_part_of_an_emergency_reply_carries_the_number_to_call():
    emergency = EmergencyCall.from_domain(project_domain())
    messages = sent(
        emergency,
        {"text": "This could be an emergency. Call now.\n\nWhy: a deformed knee.", "utter_action": "utter_emergency"},
    )
    assert [m["text"] for m in messages] == ["This could be an emergency. Call now.", "Why: a deformed knee."]
    assert all(m["emergency"] == {"call": emergency.number} for m in messages)


@pytest.mark.parametrize(
    "message",
    [
        {"text": "Stem cell therapy is investigational.", "utter_action": "utter_answer"},
        {
            "text": "Which of these?",
            "buttons": [{"title": "Cost", "payload": "/ask_msc_cost"}],
            "utter_action": "utter_ask_topic",
        },
        {"text": "A message an action wrote itself, with no response name"},
    ],
)
def test_other_replies_carry_no_number(message):
    messages = sent(EmergencyCall.from_domain(project_domain()), message)
    assert messages and all("emergency" not in m for m in messages)


def test_the_number_comes_from_the_domain_not_from_the_code():
    domain = Domain.from_dict(
        {
            "slots": {"emergency_number": {"type": "text", "initial_value": "112", "mappings": [{"type": "custom"}]}},
            "responses": {
                "utter_emergency": [{"text": "Emergency: call {emergency_number}."}],
                "utter_greet": [{"text": "Hello."}],
            },
        }
    )
    emergency = EmergencyCall.from_domain(domain)
    assert emergency == EmergencyCall("112", frozenset({"utter_emergency"}))
    assert sent(emergency, {"text": "Emergency: call 112.", "utter_action": "utter_emergency"})[0]["emergency"] == {
        "call": "112"
    }


def test_a_message_after_an_emergency_reply_is_not_marked():
    emergency = EmergencyCall.from_domain(project_domain())
    sio = RecordingSocketServer()
    output = WidgetOutput(sio, "bot_uttered", emergency)
    asyncio.run(output.send_response("p", {"text": "Emergency!", "utter_action": "utter_emergency"}))
    asyncio.run(output.send_response("p", {"text": "Next steps", "utter_action": "utter_triage_next_steps"}))
    assert ["emergency" in data for _, data, _ in sio.emitted] == [True, False]
