"""A conversation's hand-over as a FHIR R4 Bundle, for the clinic's own systems: a transaction that
creates
  * a Patient with only the inbox's pseudonym for the conversation (the assistant knows no name, and
    the channel's own id, a Telegram account or a phone number's hash, stays out);
  * a QuestionnaireResponse with the self-check's answers (when there are any);
  * a RiskAssessment with the level, its reasons and the next step;
  * a Flag when the assistant gave emergency advice.

Built with fhir.resources 6.4.0 (R4 4.0.1, the last release on the pydantic 1 that Rasa 3.6 pins),
which checks structure and cardinality but not codes: every Coding used here comes from CODES, a
table transcribed from the R4 code systems, and `check_codes` refuses any other.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from fhir.resources.bundle import Bundle

from clinical import self_check
from clinical.handover import Handover
from clinical.triage import Level

V2_YES_NO = "http://terminology.hl7.org/CodeSystem/v2-0136"
NULL_FLAVOR = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
CONVERSATION_ID_SYSTEM = "urn:knee-assistant:conversation"
SELF_CHECK_QUESTIONNAIRE = "urn:knee-assistant:questionnaire:self-check"

# system -> code -> display, from the R4 (4.0.1) code systems, only the codes used here.
CODES: Dict[str, Dict[str, str]] = {
    V2_YES_NO: {"Y": "Yes", "N": "No"},  # HL7 v2 table 0136
    NULL_FLAVOR: {"ASKU": "asked but unknown"},  # the patient was asked and said "not sure"
    FLAG_CATEGORY: {"clinical": "Clinical"},
}
ANSWER_CODINGS = {
    self_check.YES: (V2_YES_NO, "Y"),
    self_check.NO: (V2_YES_NO, "N"),
    self_check.UNSURE: (NULL_FLAVOR, "ASKU"),
}
NOT_A_DIAGNOSIS = "Automated self-check by the clinic's chat assistant from what the patient typed; not a diagnosis."


class CodeError(ValueError):
    """A Coding whose system or code is not one this export may use."""


def _coding(system: str, code: str) -> Dict[str, str]:
    return {"system": system, "code": code, "display": CODES[system][code]}


def _self_check_answers(events: Sequence[Mapping[str, Any]]) -> List[Tuple[str, str]]:
    """(slot, answer) of the self-check's latest answers, in the order asked."""
    slots = {question.slot for question in self_check.load_questions()}
    answers: Dict[str, str] = {}
    for event in events:
        if event.get("event") in ("restart", "session_started"):
            answers = {}
        elif event.get("event") == "slot" and event.get("name") in slots and event.get("value") in ANSWER_CODINGS:
            answers.pop(event["name"], None)
            answers[event["name"]] = event["value"]
    return list(answers.items())


def build_bundle(
    conversation: str, summary: Handover, events: Sequence[Mapping[str, Any]], now: Optional[datetime] = None
) -> Dict[str, Any]:
    """The transaction Bundle (as JSON-ready dicts), validated by fhir.resources and by check_codes.
    `conversation` is the inbox's pseudonym for it, never the channel's id."""
    now = now or datetime.now(timezone.utc)
    stamp = now.astimezone(timezone.utc).isoformat(timespec="seconds")
    ids = {name: f"urn:uuid:{uuid.uuid4()}" for name in ("patient", "answers", "risk", "flag")}
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": CONVERSATION_ID_SYSTEM, "value": conversation}],
    }
    entries: List[Tuple[str, Dict[str, Any]]] = [(ids["patient"], patient)]
    questions = {question.slot: question for question in self_check.load_questions()}
    answers = _self_check_answers(events)
    if answers:
        system_and_code = [ANSWER_CODINGS[answer] for _, answer in answers]
        entries.append(
            (
                ids["answers"],
                {
                    "resourceType": "QuestionnaireResponse",
                    "questionnaire": SELF_CHECK_QUESTIONNAIRE,
                    "status": "stopped" if summary.self_check == "stopped early" else "completed",
                    "subject": {"reference": ids["patient"]},
                    "authored": stamp,
                    "item": [
                        {
                            "linkId": slot,
                            "text": questions[slot].text,
                            "answer": [{"valueCoding": _coding(system, code)}],
                        }
                        for (slot, _), (system, code) in zip(answers, system_and_code)
                    ],
                },
            )
        )
    if summary.level is not None:
        risk: Dict[str, Any] = {
            "resourceType": "RiskAssessment",
            "status": "final",
            "subject": {"reference": ids["patient"]},
            "occurrenceDateTime": stamp,
            "code": {"text": "Knee pain self-check: how soon to get care"},
            "prediction": [
                {
                    "outcome": {"text": summary.level_name},
                    "rationale": "; ".join(summary.reasons) or "No warning sign was reported.",
                }
            ],
            "mitigation": summary.recommendation,
            "note": [{"text": NOT_A_DIAGNOSIS}],
        }
        if answers:
            risk["basis"] = [{"reference": ids["answers"]}]
        entries.append((ids["risk"], risk))
    emergencies = [e for e in summary.escalations if e.level == "Emergency"]
    if emergencies or summary.level is Level.EMERGENCY:
        entries.append(
            (
                ids["flag"],
                {
                    "resourceType": "Flag",
                    "status": "active",
                    "category": [{"coding": [_coding(FLAG_CATEGORY, "clinical")]}],
                    "code": {"text": "Told to call the emergency number by the clinic's chat assistant"},
                    "subject": {"reference": ids["patient"]},
                    "period": {"start": stamp},
                },
            )
        )
    bundle: Dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "transaction",
        "timestamp": stamp,
        "entry": [
            {"fullUrl": full_url, "resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
            for full_url, resource in entries
        ],
    }
    # Sent twice, the conversation is still one Patient in the clinic's system (a conditional create).
    bundle["entry"][0]["request"]["ifNoneExist"] = f"identifier={CONVERSATION_ID_SYSTEM}|{conversation}"
    validate(bundle)
    return bundle


def validate(bundle: Mapping[str, Any]) -> None:
    """Structure and cardinality (fhir.resources raises pydantic's ValidationError), then codes."""
    Bundle.parse_obj(bundle)
    check_codes(bundle)


def codings(node: Any) -> Iterator[Mapping[str, Any]]:
    """Every Coding in a FHIR JSON tree (an object with a system and a code)."""
    if isinstance(node, Mapping):
        if "system" in node and "code" in node:
            yield node
        for value in node.values():
            yield from codings(value)
    elif isinstance(node, list):
        for item in node:
            yield from codings(item)


def check_codes(bundle: Mapping[str, Any]) -> None:
    for coding in codings(bundle):
        known = CODES.get(coding["system"])
        if known is None or coding["code"] not in known:
            raise CodeError(f"{coding['system']}#{coding['code']} is not a code this export may use")
        if coding.get("display") not in (None, known[coding["code"]]):
            raise CodeError(f"{coding['system']}#{coding['code']}: display {coding['display']!r} is not the code's")
