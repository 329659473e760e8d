"""What the patient has told us so far, read from the rasa-sdk tracker (events are plain dicts).

The same reading as components/red_flag_policy.py does of the Rasa tracker (Event objects): each
user message's finding record since the conversation (re)started, and the self-check's current
answers, each at its place in the conversation; clinical/self_check.py does the rest.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from rasa_sdk import Tracker

from clinical.self_check import FINDINGS_KEY, Said, merge, question_slots, said_in_order
from clinical.triage import Findings


def _since_start(tracker: Tracker) -> List[dict]:
    events: List[dict] = []
    for event in tracker.events:
        if event.get("event") in ("restart", "session_started"):
            events = []
        else:
            events.append(event)
    return events


def finding_records(tracker: Tracker) -> List[Optional[dict]]:
    return [(e.get("parse_data") or {}).get(FINDINGS_KEY) for e in _since_start(tracker) if e.get("event") == "user"]


def answers(tracker: Tracker) -> Dict[str, Optional[str]]:
    return {slot: tracker.get_slot(slot) for slot in question_slots()}


def said(tracker: Tracker) -> Tuple[Said, ...]:
    events = _since_start(tracker)
    records = [(i, (e.get("parse_data") or {}).get(FINDINGS_KEY)) for i, e in enumerate(events) if e.get("event") == "user"]
    set_at = {e.get("name"): i for i, e in enumerate(events) if e.get("event") == "slot"}
    current = {slot: (set_at.get(slot, len(events)), value) for slot, value in answers(tracker).items()}
    return said_in_order(records, current)


def everything_known(tracker: Tracker) -> Findings:
    return merge(said(tracker))
