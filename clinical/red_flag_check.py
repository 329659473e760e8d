"""The red-flag check on every message: triage before topic. Pure Python: no Rasa imports.

components/red_flag_policy.py asks `decide` after each user message, before anything answers its
topic. Three sources, any of which may escalate:
  * the rules (clinical/triage.py) over everything said so far;
  * the learned classifier's opinion of the latest message (clinical/red_flag_model.py), above a
    threshold chosen on development data;
  * the patient's answer to the closed red-flag questions asked just before: "yes" or "not sure"
    counts as the red flag (clinical-safety.md: "not sure" never lowers urgency).
When nothing escalates but the message describes a problem with someone's body, the closed red-flag
questions that fit what was described are asked at once, in one turn (content/red_flag_questions.yml);
so are the missing findings of an emergency rule that is half met.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, Optional, Sequence, Tuple

import yaml

from clinical.red_flag_model import CRISIS_KIND, Opinion
from clinical.self_check import Said, earlier_and_latest
from clinical.triage import Findings, Level, Reason, Status, TriageResult, escalation, triage

QUESTIONS_FILE = Path(__file__).resolve().parent / "content" / "red_flag_questions.yml"
KINDS_FILE = Path(__file__).resolve().parent / "content" / "red_flag_kinds.yml"
MAX_QUESTIONS = 4
YES, NO, NOT_SURE = "affirm", "deny", "unsure"   # the intents of the question's buttons and typed answers


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    findings: Tuple[str, ...]
    fits: Tuple[str, ...] = ()
    unless: Tuple[str, ...] = ()
    kinds: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Thresholds:
    """The classifier's thresholds (config.yml, chosen by scripts/tune_red_flag_model.py)."""

    emergency: float = 0.6
    urgent: float = 0.6
    ask: float = 0.3


@dataclass(frozen=True)
class Decision:
    escalation: Optional[TriageResult] = None   # say this first (emergency or same-day)
    questions: Tuple[Question, ...] = ()        # then (or instead) ask these closed questions
    findings: Findings = field(default_factory=Findings)  # everything known, for the record
    source: str = ""                            # what escalated: rules, model or questions


@functools.lru_cache(maxsize=None)
def load_questions(path: Path = QUESTIONS_FILE) -> Tuple[Question, ...]:
    specs = yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]
    return tuple(Question(**{k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()}) for spec in specs)


@functools.lru_cache(maxsize=None)
def kind_concerns(path: Path = KINDS_FILE) -> dict:
    """What a clinician would want to check for each kind of emergency the classifier names."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))["kinds"]


def questions_by_id() -> dict:
    return {q.id: q for q in load_questions()}


def decide(said: Sequence[Said], opinion: Optional[Opinion] = None, thresholds: Thresholds = Thresholds(),
           answered: Sequence[str] = (), answer: str = "", asked_before: Collection[str] = ()) -> Decision:
    """What the reply to the latest message must start with.

    said:          everything the patient told us, a Said per message (clinical/conversation.py)
    opinion:       the classifier's opinion of the latest message, if it ran
    answered:      ids of the red-flag questions asked just before the latest message
    answer:        the latest message's intent (affirm / deny / unsure answer those questions)
    asked_before:  ids of every red-flag question asked earlier in the conversation
    """
    earlier, latest = earlier_and_latest(said)
    answered_questions = [questions_by_id()[q] for q in answered if q in questions_by_id()]
    if answered_questions and answer in (YES, NOT_SURE, NO):
        status = Status.ABSENT if answer == NO else Status.UNSURE
        given = Findings({code: status for q in answered_questions for code in q.findings})
        latest = latest.combined(given)
    known = earlier.merged(latest)

    result = escalation(earlier, latest)
    source = "rules" if result is not None else ""
    if answered_questions and answer in (YES, NOT_SURE) and result is not None and result.is_emergency:
        result = _answered_yes(result, answered_questions)
        source = "questions"
    model = _model_escalation(opinion, thresholds) if opinion is not None else None
    if model is not None and (result is None or model.level > result.level):
        result, source = model, "model"
    elif model is not None and result is not None and model.crisis_line and not result.crisis_line:
        result = TriageResult(result.level, result.reasons + model.reasons, True, result.decided_at)

    if result is not None and result.is_emergency:
        return Decision(result, (), known, source)
    questions = questions_to_ask(earlier, latest, opinion, thresholds, tuple(asked_before) + tuple(answered))
    return Decision(result, questions, known, source)


def questions_to_ask(earlier: Findings, latest: Findings, opinion: Optional[Opinion] = None,
                     thresholds: Thresholds = Thresholds(), asked_before: Collection[str] = ()) -> Tuple[Question, ...]:
    """The closed red-flag questions that fit what the latest message described, when their "yes"
    would make an emergency with what is already known. None when the latest message describes
    nothing (a "thanks" after a symptom asks nothing again)."""
    known = earlier.merged(latest)
    current = {code for code in latest.statuses if latest.possible(code)}
    leaning = opinion.kind if opinion is not None and opinion.emergency >= thresholds.ask else None
    chosen = []
    for question in load_questions():
        if question.id in asked_before or any(known.status(code) is not None for code in question.findings):
            continue
        fits = bool(current & set(question.fits)) or (leaning is not None and leaning in question.kinds)
        if not fits or any(known.possible(code) for code in question.unless):
            continue
        if _yes_makes_an_emergency(known, question):
            chosen.append(question)
    return tuple(chosen[:MAX_QUESTIONS])


def _yes_makes_an_emergency(known: Findings, question: Question) -> bool:
    with_yes = known.merged(Findings({code: Status.UNSURE for code in question.findings}))
    return triage(with_yes).is_emergency and not triage(known).is_emergency


def _answered_yes(result: TriageResult, questions: Sequence[Question]) -> TriageResult:
    """A "yes" to a list of questions does not say which one: the reason says so."""
    listed = "; ".join(q.text for q in questions)
    reason = Reason("red_flag_questions", Level.EMERGENCY, f"you told me one of these applies right now: {listed}",
                    "several possible emergencies")
    return TriageResult(Level.EMERGENCY, (reason,), result.crisis_line, result.decided_at)


def _model_escalation(opinion: Opinion, thresholds: Thresholds) -> Optional[TriageResult]:
    crisis = opinion.kind == CRISIS_KIND or opinion.crisis >= thresholds.emergency
    if opinion.emergency >= thresholds.emergency:
        concern = kind_concerns().get(opinion.kind, "a serious problem")
        reason = Reason(f"model:{opinion.kind}", Level.EMERGENCY, f"what you describe could be a sign of {concern}",
                        concern)
        return TriageResult(Level.EMERGENCY, (reason,), crisis, _now())
    if opinion.urgent >= thresholds.urgent:
        reason = Reason("model:urgent", Level.URGENT, "what you describe may need a clinician to check it today",
                        "an injury inside the knee")
        return TriageResult(Level.URGENT, (reason,), False, _now())
    return None


def _now() -> str:
    return triage(Findings()).decided_at
