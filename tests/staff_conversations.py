"""Stored conversations for the staff inbox's tests, as the tracker store keeps them (event dicts,
patients' words already redacted), and a way to store them through the real tracker store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, List, Optional

START = 1_796_000_000.0  # 2026-11-30, a fixed time so summaries read the same in every run


def user(text: str, intent: str, at: float, findings: Optional[dict] = None, channel: str = "rest") -> Dict[str, Any]:
    parse_data: Dict[str, Any] = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": []}
    if findings is not None:
        parse_data["findings"] = findings
    return {"event": "user", "timestamp": at, "text": text, "parse_data": parse_data, "input_channel": channel}


def bot(text: str, at: float) -> Dict[str, Any]:
    return {"event": "bot", "timestamp": at, "text": text}


def action(name: str, at: float) -> Dict[str, Any]:
    return {"event": "action", "timestamp": at, "name": name}


def slot(name: str, value: Any, at: float) -> Dict[str, Any]:
    return {"event": "slot", "timestamp": at, "name": name, "value": value}


def result(source: str, level: str, reasons: List[str], at: str = "2026-11-30T10:00:00+00:00", **extra) -> dict:
    return {
        "source": source,
        "level": level,
        "reasons": [{"rule": f"rule_{i}", "level": level, "reason": r, "concern": "c"} for i, r in enumerate(reasons)],
        "findings": {},
        "crisis_line": False,
        "decided_at": at,
        **extra,
    }


def emergency_after_a_fall(start: float = START) -> List[Dict[str, Any]]:
    """Told to call the emergency number, then asked for a person (a handoff)."""
    return [
        user(
            "i fell off a ladder and my knee looks bent the wrong way",
            "describe_symptoms",
            start,
            {"present": ["injury", "fall", "deformity"], "absent": [], "unsure": []},
            channel="twilio",
        ),
        action("utter_emergency", start + 1),
        slot("triage_result", result("red_flag_check", "emergency", ["a deformed knee after an injury"]), start + 1),
        bot("⚠️ This could be an emergency. Call 911 now.", start + 1),
        user("can i speak to someone", "human_handoff", start + 60, channel="twilio"),
        bot("Please call the clinic.", start + 61),
    ]


def self_check_see_clinician(start: float = START + 600) -> List[Dict[str, Any]]:
    """A completed self-check: a pertinent negative (no fever), one that rules nothing out (no extreme
    pain), a positive (swelling), and an article question."""
    return [
        user("what is osteoarthritis", "ask_oa_definition", start),
        bot("Osteoarthritis is ...", start + 1),
        user(
            "my knee is swollen and stiff <script>alert(1)</script>",
            "describe_symptoms",
            start + 30,
            {"present": ["swelling"], "absent": [], "unsure": []},
        ),
        slot("sc_fever", "no", start + 40),
        slot("sc_extreme_pain", "no", start + 50),
        slot("sc_swelling", "yes", start + 55),
        slot("triage_result", result("self_check", "see_clinician", ["swelling that keeps coming back"]), start + 60),
        bot("Result: see a clinician.", start + 61),
    ]


def handoff_only(start: float = START + 1200) -> List[Dict[str, Any]]:
    return [user("I'd like to talk to a real person please", "human_handoff", start), bot("Please call.", start + 1)]


# The queue of the three conversations above, top first (level, kind): the emergency conversation
# first (its request for a person, newer, before its escalation), then the self-check, then the request
# for a person without any symptoms.
QUEUE_OF_THE_THREE = [
    ("emergency", "Asked for a person"),
    ("emergency", "Red flag escalated"),
    ("see_clinician", "Self-check"),
    ("self_care_info", "Asked for a person"),
]


def store(tracker_db: Path, conversations: Dict[str, List[Dict[str, Any]]], database_url: Optional[str] = None) -> None:
    """Store the conversations through the tracker store the Rasa server uses (PostgreSQL at
    database_url if given, else SQLite at tracker_db)."""
    import os

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import Event
    from rasa.shared.core.trackers import DialogueStateTracker

    from stores.tracker_store import PrivateTrackerStore

    domain = Domain.load(str(Path(__file__).resolve().parent.parent / "domain"))
    wanted = {"TRACKER_DB": str(tracker_db), "DATABASE_URL": database_url}
    before = {name: os.environ.get(name) for name in wanted}
    for name, value in wanted.items():
        os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
    try:
        store = PrivateTrackerStore(domain)
        for sender, events in conversations.items():
            tracker = DialogueStateTracker.from_events(
                sender, [e for e in (Event.from_parameters(dict(d)) for d in events) if e], domain.slots
            )
            asyncio.run(store.save(tracker))
        store.engine.dispose()
    finally:
        for name, value in before.items():
            os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
