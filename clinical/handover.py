"""The hand-over summary clinic staff read before they call a patient back, in SBAR form
(Situation, Background, Assessment, Recommendation), built from a stored conversation's events.
Pure Python: no Rasa imports. The staff inbox (staff_inbox/) shows it; it reads only what the
tracker store holds, and patients' words there are already redacted (privacy/redaction.py).

What goes in, and why:
  * Situation: the patient's own words where they describe their body (the messages in which the
    finding extractor found something), and what they asked the clinic for.
  * Background: channel, language, when; the article topics they asked about.
  * Assessment: the latest level and its reasons, and every escalation the assistant gave (an
    emergency told earlier stays visible even if a later self-check ends lower).
  * The red-flag questions asked, with the positive answers and only the pertinent negatives: a "no"
    to a finding that takes part in an urgent or emergency rule (content/red_flags.yml). A "no" that
    rules nothing out is counted, not listed, so the summary stays short.
  * Recommendation: the next step the level means for the clinic, in one line.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

from clinical import red_flag_check, self_check
from clinical.articles import load_library
from clinical.conversation import ASKED_SLOT, since_start
from clinical.self_check import FINDINGS_KEY, RESULT_SLOT
from clinical.triage import LEVEL_NAMES, Level, Status, load_rules

Event = Mapping[str, Any]

HANDOFF_INTENT = "human_handoff"
NOT_READ_RESPONSE = "utter_language_not_read"
MAX_COMPLAINT_MESSAGES = 3
MAX_QUOTE_CHARS = 300

CHANNEL_NAMES = {
    "socketio": "web chat",
    "rest": "web (REST)",
    "twilio": "SMS / WhatsApp",
    "telegram": "Telegram",
}
RECOMMENDATIONS = {
    Level.EMERGENCY: "The patient was told to call the emergency number. Check they did; do not book a routine slot.",
    Level.URGENT: "The patient was told to get care today. Call back today.",
    Level.SEE_CLINICIAN: "Offer an appointment with a clinician.",
    Level.SELF_CARE_INFO: "Answer their questions; offer an appointment if they want one.",
}
ANSWER_WORDS = {"yes": "yes", "no": "no", "unsure": "not sure", "affirm": "yes", "deny": "no"}


@dataclass(frozen=True)
class QuestionAnswer:
    question: str
    answer: str  # yes / no / not sure
    pertinent_negative: bool = False


@dataclass(frozen=True)
class Escalation:
    at: str
    level: str


@dataclass(frozen=True)
class Handover:
    complaint: Tuple[str, ...]  # the patient's words (as stored: redacted)
    asked_for: Tuple[str, ...]  # what the patient asked the clinic for (a person, a callback)
    channel: str
    language: str
    started_at: str
    last_message_at: str
    topics: Tuple[str, ...]  # the article topics they asked about
    level: Optional[Level]
    reasons: Tuple[str, ...]
    self_check: str  # "completed", "stopped early" or "not done"
    escalations: Tuple[Escalation, ...]
    answers: Tuple[QuestionAnswer, ...]  # positives and pertinent negatives, in the order asked
    other_negatives: int  # "no" answers that rule nothing out, not listed

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES[self.level] if self.level is not None else "Not assessed"

    @property
    def recommendation(self) -> str:
        if self.level is None:
            return "No symptom check was done: ask about symptoms when you call."
        return RECOMMENDATIONS[self.level]


@functools.lru_cache(maxsize=None)
def red_flag_findings() -> FrozenSet[str]:
    """Findings that take part in an urgent or emergency rule: a "no" to these is a pertinent negative."""
    return frozenset(code for rule in load_rules() if rule.level >= Level.URGENT for code in rule.findings)


def _when(timestamp: Optional[float]) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _when_iso(decided_at: Optional[str]) -> str:
    try:
        return _when(datetime.fromisoformat(decided_at).timestamp()) if decided_at else ""
    except ValueError:
        return str(decided_at)


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_QUOTE_CHARS else text[: MAX_QUOTE_CHARS - 1] + "…"


def _describes_body(event: Event) -> bool:
    record = (event.get("parse_data") or {}).get(FINDINGS_KEY) or {}
    return bool(record.get("present") or record.get("unsure") or record.get("absent"))


def _self_check_answers(current: Sequence[Event]) -> List[QuestionAnswer]:
    """The self-check questions answered, from the form's slot events (the last answer to each)."""
    by_slot = {question.slot: question for question in self_check.load_questions()}
    answers: Dict[str, str] = {}
    for event in current:
        if event.get("event") == "slot" and event.get("name") in by_slot and event.get("value") in self_check.ANSWERS:
            answers.pop(event["name"], None)  # keep the order of the latest answer
            answers[event["name"]] = event["value"]
    result = []
    for slot, answer in answers.items():
        question = by_slot[slot]
        present = question.status_for(answer) is not Status.ABSENT
        result.append(
            QuestionAnswer(
                question=question.text,
                answer=ANSWER_WORDS[answer],
                pertinent_negative=not present and question.finding in red_flag_findings(),
            )
        )
    return result


def _closed_question_answers(current: Sequence[Event]) -> List[QuestionAnswer]:
    """The closed red-flag questions ("Right now, do any of these apply?") and the reply to them."""
    by_id = red_flag_check.questions_by_id()
    result = []
    asked: Tuple[str, ...] = ()
    for event in current:
        if event.get("event") == "slot" and event.get("name") == ASKED_SLOT:
            asked = tuple(event.get("value") or ())
        elif event.get("event") == "user" and asked:
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if intent in ANSWER_WORDS:
                for question_id in asked:
                    question = by_id.get(question_id)
                    if question is None:
                        continue
                    answer = ANSWER_WORDS[intent]
                    pertinent = answer == "no" and bool(set(question.findings) & red_flag_findings())
                    result.append(QuestionAnswer(f"Right now, {question.text}?", answer, pertinent))
            asked = ()
    return result


def summarise(events: Sequence[Event]) -> Handover:
    """The hand-over summary of a conversation (its events as dicts, oldest first)."""
    current = since_start(events)
    users = [e for e in current if e.get("event") == "user"]
    library = load_library()

    complaint = tuple(_quote(e.get("text") or "") for e in users if _describes_body(e))[:MAX_COMPLAINT_MESSAGES]
    intents = [((e.get("parse_data") or {}).get("intent") or {}).get("name") for e in users]
    asked_for = ("to talk to a person",) if HANDOFF_INTENT in intents else ()
    topics: List[str] = []
    for intent in intents:
        topic = library.topic_for_intent(intent)
        if topic and topic.label not in topics:
            topics.append(topic.label)

    channels = [str(e["input_channel"]) for e in users if e.get("input_channel")]
    channel = CHANNEL_NAMES.get(channels[-1], channels[-1]) if channels else "unknown"
    not_read = any(e.get("event") == "action" and e.get("name") == NOT_READ_RESPONSE for e in current)
    language = "English, and a message in a language the assistant could not read" if not_read else "English"

    values = [e.get("value") for e in current if e.get("event") == "slot" and e.get("name") == RESULT_SLOT]
    results: List[Mapping[str, Any]] = [r for r in values if isinstance(r, Mapping) and r.get("level")]
    latest = results[-1] if results else None
    escalations = tuple(
        Escalation(at=_when_iso(r.get("decided_at")), level=LEVEL_NAMES[Level.from_code(r["level"])])
        for r in results
        if r.get("source") == "red_flag_check" and Level.from_code(r["level"]) >= Level.URGENT
    )
    checks = [r for r in results if r.get("source") == "self_check"]
    if not checks:
        self_check_state = "not done"
    else:
        self_check_state = "stopped early" if checks[-1].get("stopped_early") else "completed"

    answers = _self_check_answers(current) + _closed_question_answers(current)
    shown = tuple(a for a in answers if a.answer != "no" or a.pertinent_negative)
    timestamps = [float(e["timestamp"]) for e in users if e.get("timestamp") is not None]
    return Handover(
        complaint=complaint,
        asked_for=asked_for,
        channel=channel,
        language=language,
        started_at=_when(min(timestamps)) if timestamps else "",
        last_message_at=_when(max(timestamps)) if timestamps else "",
        topics=tuple(topics),
        level=Level.from_code(latest["level"]) if latest else None,
        reasons=tuple(r.get("reason", "") for r in latest.get("reasons", [])) if latest else (),
        self_check=self_check_state,
        escalations=escalations,
        answers=shown,
        other_negatives=len(answers) - len(shown),
    )
