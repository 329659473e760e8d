"""What the patient has said so far, read from a conversation's events (plain dicts, as Rasa's
`Event.as_dict()` and rasa-sdk's tracker give them). Pure Python: no Rasa imports.

The one reader of the conversation for both sides of the assistant: the red-flag policy
(components/red_flag_policy.py) and the actions (actions/conversation.py) call it, so they always
agree on what was said.

What counts:
  * everything since the conversation (re)started: a restart or a new session starts afresh;
  * every user message's finding record, even one the assistant did not understand (a rewound
    message is still something the patient told us about their symptoms);
  * the self-check's answers, each at the place in the conversation where it was given;
  * the closed red-flag questions the assistant asked, and the answer to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, cast

from clinical.red_flag_model import Opinion
from clinical.self_check import FINDINGS_KEY, MODEL_KEY, Said, merge, said_in_order
from clinical.triage import Findings

Event = Mapping[str, Any]
ASKED_SLOT = "red_flag_questions_asked"  # the ids of the closed red-flag questions last asked
ASK_ACTION = "utter_red_flag_questions"
ANSWER_INTENTS = ("affirm", "deny", "unsure")


def since_start(events: Sequence[Event]) -> List[Event]:
    current: List[Event] = []
    for event in events:
        if event.get("event") in ("restart", "session_started"):
            current = []
        else:
            current.append(event)
    return current


def finding_records(events: Sequence[Event]) -> List[Optional[dict]]:
    return [(e.get("parse_data") or {}).get(FINDINGS_KEY) for e in since_start(events) if e.get("event") == "user"]


def said(events: Sequence[Event], answers: Mapping[str, Optional[str]]) -> Tuple[Said, ...]:
    """One Said per user message, in order, with the self-check answers it gave (self_check.py)."""
    current = since_start(events)
    records = [
        (i, (e.get("parse_data") or {}).get(FINDINGS_KEY)) for i, e in enumerate(current) if e.get("event") == "user"
    ]
    set_at = {e.get("name"): i for i, e in enumerate(current) if e.get("event") == "slot"}
    placed = {slot: (set_at.get(slot, len(current)), value) for slot, value in answers.items()}
    return said_in_order(records, placed)


def everything_known(events: Sequence[Event], answers: Mapping[str, Optional[str]]) -> Findings:
    return merge(said(events, answers))


@dataclass(frozen=True)
class LatestTurn:
    """The latest user message as the red-flag check needs it."""

    intent: str
    opinion: Optional[Opinion]  # the red-flag classifier's, if it ran
    answered_questions: Tuple[str, ...]  # the red-flag questions this message answers (asked just before it)
    asked_before: Tuple[str, ...]  # every red-flag question asked in this conversation so far


def latest_turn(events: Sequence[Event]) -> Optional[LatestTurn]:
    current = since_start(events)
    users = [i for i, e in enumerate(current) if e.get("event") == "user"]
    if not users:
        return None
    at = users[-1]
    parse = current[at].get("parse_data") or {}
    asked_before: List[str] = []
    for event in current[:at]:
        if event.get("event") == "slot" and event.get("name") == ASKED_SLOT and event.get("value"):
            asked_before += [q for q in event["value"] if q not in asked_before]
    return LatestTurn(
        intent=(parse.get("intent") or {}).get("name") or "",
        opinion=Opinion.from_dict(parse.get(MODEL_KEY)),
        answered_questions=_questions_just_asked(current[:at]),
        asked_before=tuple(asked_before),
    )


def _questions_just_asked(before: Sequence[Event]) -> Tuple[str, ...]:
    """The red-flag questions of the assistant's last reply, if its last action asked them."""
    actions = [e for e in before if e.get("event") == "action" and e.get("name") != "action_listen"]
    if not actions or actions[-1].get("name") != ASK_ACTION:
        return ()
    for event in reversed(before):
        if event.get("event") == "slot" and event.get("name") == ASKED_SLOT:
            return tuple(event.get("value") or ())
    return ()


def as_dicts(events: Sequence[Any]) -> List[Dict[str, Any]]:
    """Rasa's Event objects as the dicts this module reads (rasa-sdk already gives dicts)."""
    return [cast(Dict[str, Any], event) if isinstance(event, Mapping) else event.as_dict() for event in events]
