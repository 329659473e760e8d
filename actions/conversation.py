"""What the patient has told us so far, from the rasa-sdk tracker: clinical/conversation.py reads it,
the same reader the red-flag policy uses, so actions and policy always agree."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from rasa_sdk import Tracker

from clinical import conversation
from clinical.self_check import Said, question_slots
from clinical.triage import Findings


def answers(tracker: Tracker) -> Dict[str, Optional[str]]:
    return {slot: tracker.get_slot(slot) for slot in question_slots()}


def finding_records(tracker: Tracker) -> List[Optional[dict]]:
    return conversation.finding_records(tracker.events)


def said(tracker: Tracker) -> Tuple[Said, ...]:
    return conversation.said(tracker.events, answers(tracker))


def everything_known(tracker: Tracker) -> Findings:
    return conversation.everything_known(tracker.events, answers(tracker))
