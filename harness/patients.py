"""Simulated patients: what they say and how to read the assistant's replies. Shared by the
end-to-end, cluster and fault tests and by the load test (scripts/load_test.py)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from channels.guard import SERVICE_REPLIES
from clinical.self_check import load_questions
from harness.domain import load_domain

DOMAIN = load_domain()
EMERGENCY_NUMBER = DOMAIN["slots"]["emergency_number"]["initial_value"]
BUTTON = {"yes": "/affirm", "no": "/deny", "unsure": "/unsure"}
# The answer that reports nothing wrong: "no" to "Is the knee hot?", "yes" to "Can you straighten it?"
NOTHING_WRONG = {q.slot: BUTTON[q.absent_when] for q in load_questions()}
QUESTION_TEXTS = {
    name[len("utter_ask_") :]: variants[0]["text"]
    for name, variants in DOMAIN["responses"].items()
    if name.startswith("utter_ask_sc_")
}
SERVICE_TEXTS = {name: variants[0]["text"] for name, variants in DOMAIN["responses"].items() if name in SERVICE_REPLIES}


def new_sender(prefix: str = "patient") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def texts(replies: List[dict]) -> List[str]:
    return [reply.get("text", "") for reply in replies]


def asked(replies: List[dict]) -> Optional[str]:
    """The self-check question a reply ends with, as its slot name, or None."""
    last = texts(replies)[-1] if replies else ""
    return next((slot for slot, text in QUESTION_TEXTS.items() if text == last), None)


def is_emergency(text: str) -> bool:
    return EMERGENCY_NUMBER in text and "emergency" in text.lower()


def is_unavailable(replies: List[dict]) -> bool:
    """The guard's "technical problem" reply (its first words: the rest is filled from slots)."""
    return any(text.startswith("Sorry, I can't answer that right now") for text in texts(replies))


@dataclass
class Patient:
    """A scripted conversation: fixed opening messages, then (if `self_check`) the self-check answered
    "nothing wrong" to every question until the summary, then closing messages."""

    name: str
    opening: List[str]
    self_check: bool = False
    closing: List[str] = field(default_factory=list)
    max_turns: int = 40

    def turns(self, say: Callable[[str], List[dict]], pause: float = 0.0) -> List[List[dict]]:
        """Talk through `say` (message -> replies), `pause` seconds between a reply and the next
        message (a person reads; the rate limit allows 10 messages in 5 s); return every turn's replies."""
        replies_per_turn: List[List[dict]] = []

        def turn(message: str) -> List[dict]:
            if replies_per_turn and pause:
                time.sleep(pause)
            replies_per_turn.append(say(message))
            return replies_per_turn[-1]

        for message in self.opening:
            replies = turn(message)
        if self.self_check:
            while (question := asked(replies)) and len(replies_per_turn) < self.max_turns:
                replies = turn(NOTHING_WRONG[question])
        for message in self.closing:
            turn(message)
        return replies_per_turn


PATIENTS: Dict[str, Patient] = {
    patient.name: patient
    for patient in [
        # Asks about osteoarthritis, then takes the whole self-check with nothing wrong (about 18 turns).
        Patient(
            "full_self_check",
            ["hi", "what is knee osteoarthritis?", "check my symptoms"],
            self_check=True,
            closing=["thanks", "bye"],
        ),
        # Starts the self-check and reports an emergency in the middle of it.
        Patient(
            "red_flag_in_self_check",
            ["hello", "/start_self_check", "/deny", "actually my knee is hot and red and I have a fever of 39"],
            closing=["ok thank you"],
        ),
        # Questions only.
        Patient(
            "questions",
            [
                "How much does stem cell therapy cost?",
                "is it safe?",
                "how is it done?",
                "what causes knee pain?",
                "thanks",
                "bye",
            ],
        ),
    ]
}
