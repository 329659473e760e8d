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
from clinical.triage import Findings, Level, Reason, Rule, Status, TriageResult, escalation, load_rules, triage

QUESTIONS_FILE = Path(__file__).resolve().parent / "content" / "red_flag_questions.yml"
KINDS_FILE = Path(__file__).resolve().parent / "content" / "red_flag_kinds.yml"
MAX_QUESTIONS = 4
YES, NO, NOT_SURE = "affirm", "deny", "unsure"  # the intents of the question's buttons and typed answers


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

    emergency: float = 0.8
    urgent: float = 0.6
    ask: float = 0.3
    # A crisis is escalated at a lower probability: its reply (the 988 line) costs little when
    # wrong, and a missed crisis is the worst miss there is.
    crisis: float = 0.5


@dataclass(frozen=True)
class Decision:
    escalation: Optional[TriageResult] = None  # say this first (emergency or same-day)
    questions: Tuple[Question, ...] = ()  # then (or instead) ask these closed questions
    findings: Findings = field(default_factory=Findings)  # everything known, for the record
    source: str = ""  # what escalated: rules, model or questions


@functools.lru_cache(maxsize=None)
def load_questions(path: Path = QUESTIONS_FILE) -> Tuple[Question, ...]:
    specs = yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]
    # YAML lists become tuples (the dataclass is frozen and hashable); mypy cannot see the keys.
    return tuple(
        Question(**{k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()})  # type: ignore[arg-type]
        for spec in specs
    )


@functools.lru_cache(maxsize=None)
def kind_concerns(path: Path = KINDS_FILE) -> dict:
    """What a clinician would want to check for each kind of emergency the classifier names."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))["kinds"]


@functools.lru_cache(maxsize=None)
def questions_by_id() -> dict:
    return {q.id: q for q in load_questions()}


def decide(
    said: Sequence[Said],
    opinion: Optional[Opinion] = None,
    thresholds: Thresholds = Thresholds(),
    answered: Sequence[str] = (),
    answer: str = "",
    asked_before: Collection[str] = (),
) -> Decision:
    """What the reply to the latest message must start with.

    said:          everything the patient told us, a Said per message (clinical/conversation.py)
    opinion:       the classifier's opinion of the latest message, if it ran
    answered:      ids of the red-flag questions asked just before the latest message
    answer:        the latest message's intent (affirm / deny / unsure answer those questions)
    asked_before:  ids of every red-flag question asked earlier in the conversation
    """
    earlier, latest = earlier_and_latest(said)
    by_id = questions_by_id()
    answered_questions = [by_id[q] for q in answered if q in by_id]
    if answered_questions and answer in (YES, NOT_SURE, NO):
        status = Status.ABSENT if answer == NO else Status.UNSURE
        given = Findings({code: status for q in answered_questions for code in q.findings})
        latest = latest.most_urgent_with(given)
    known = earlier.updated_by(latest)

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
    questions = questions_to_ask(
        earlier, latest, opinion, thresholds, tuple(asked_before) + tuple(answered), only_completing=result is not None
    )
    return Decision(result, questions, known, source)


def questions_to_ask(
    earlier: Findings,
    latest: Findings,
    opinion: Optional[Opinion] = None,
    thresholds: Thresholds = Thresholds(),
    asked_before: Collection[str] = (),
    only_completing: bool = False,
) -> Tuple[Question, ...]:
    """The closed red-flag questions that fit what the latest message described, when their "yes"
    would make an emergency with what is already known. Those that complete an emergency rule the
    conversation already half meets come first; with `only_completing` (after a same-day reply), only
    those. None when the latest message describes nothing (a "thanks" after a symptom asks nothing)."""
    known = earlier.updated_by(latest)
    current = {code for code in latest.statuses if latest.possible(code)}
    leaning = opinion.kind if opinion is not None and opinion.emergency >= thresholds.ask else None
    completing, others = [], []
    for question in load_questions():
        if question.id in asked_before or any(known.status(code) is not None for code in question.findings):
            continue
        fits = bool(current & set(question.fits)) or (leaning is not None and leaning in question.kinds)
        if not fits or any(known.possible(code) for code in question.unless):
            continue
        completed = _emergency_rules_a_yes_fires(known, question)
        if any(rule.findings & current for rule in completed):
            completing.append(question)
        elif completed and not only_completing:
            others.append(question)
    return tuple((completing + others)[:MAX_QUESTIONS])


def _emergency_rules_a_yes_fires(known: Findings, question: Question) -> Tuple[Rule, ...]:
    """The emergency rules a "yes" to this question would fire that do not fire now."""
    with_yes = known.updated_by(Findings({code: Status.UNSURE for code in question.findings}))
    return tuple(
        rule
        for rule in load_rules()
        if rule.level is Level.EMERGENCY and rule.fires(with_yes) and not rule.fires(known)
    )


def _answered_yes(result: TriageResult, questions: Sequence[Question]) -> TriageResult:
    """A "yes" to a list of questions does not say which one: the reason says so."""
    listed = "; ".join(q.text for q in questions)
    reason = Reason(
        "red_flag_questions",
        Level.EMERGENCY,
        f"you told me one of these applies right now: {listed}",
        "several possible emergencies",
    )
    return TriageResult(Level.EMERGENCY, (reason,), result.crisis_line, result.decided_at)


def _model_escalation(opinion: Opinion, thresholds: Thresholds) -> Optional[TriageResult]:
    crisis = opinion.crisis >= thresholds.crisis
    if opinion.emergency >= thresholds.emergency or crisis:
        crisis = crisis or opinion.kind == CRISIS_KIND
        kind = CRISIS_KIND if crisis and opinion.emergency < thresholds.emergency else opinion.kind
        concern = kind_concerns().get(kind, "a serious problem")
        reason = Reason(f"model:{kind}", Level.EMERGENCY, f"what you describe could be a sign of {concern}", concern)
        return TriageResult(Level.EMERGENCY, (reason,), crisis, _now())
    if opinion.urgent >= thresholds.urgent:
        reason = Reason(
            "model:urgent",
            Level.URGENT,
            "what you describe may need a clinician to check it today",
            "an injury inside the knee",
        )
        return TriageResult(Level.URGENT, (reason,), False, _now())
    return None


def _now() -> str:
    return triage(Findings()).decided_at
