"""The guided self-check as data and pure logic (no Rasa imports).

The questions live in content/self_check.yml. This module turns answers and what the patient said in
their own words (the finding extractor's records in the parse results) into triage findings, and
decides which question comes next: a question is skipped when its subject does not apply (no
injury, no questions about the injury) or when the patient has already told us the answer.
Used by the form's validation action (actions/forms.py) and by the red-flag policy
(components/red_flag_policy.py), so both read answers the same way.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, Iterable, Mapping, Optional, Sequence, Tuple

import yaml

from clinical.triage import Findings, Status

QUESTIONS_FILE = Path(__file__).resolve().parent / "content" / "self_check.yml"
# Names shared by the Rasa side (components/) and the action server (actions/).
FINDINGS_KEY = "findings"  # the finding extractor's record in a message's parse result
RESULT_SLOT = "triage_result"  # the structured result, stored with the conversation
MODEL_KEY = "red_flag_model"  # the red-flag classifier's opinion in a message's parse result
YES, NO, UNSURE = "yes", "no", "unsure"
ANSWERS = (YES, NO, UNSURE)


@dataclass(frozen=True)
class Question:
    slot: str
    text: str
    finding: str
    present_when: str
    answered_by: Tuple[str, ...] = ()
    ask_if: Tuple[str, ...] = ()
    ask_if_all: Tuple[str, ...] = ()
    ask_unless: Tuple[str, ...] = ()
    ends_check: Optional[str] = None

    @property
    def absent_when(self) -> str:
        return NO if self.present_when == YES else YES

    def status_for(self, answer: str) -> Status:
        if answer == UNSURE:
            return Status.UNSURE
        return Status.PRESENT if answer == self.present_when else Status.ABSENT

    def applies(self, findings: Findings) -> bool:
        return (
            (not self.ask_if or any(findings.possible(code) for code in self.ask_if))
            and all(findings.possible(code) for code in self.ask_if_all)
            and not any(findings.possible(code) for code in self.ask_unless)
        )

    def answer_already_given(self, findings: Findings) -> Optional[str]:
        """The answer the patient's own words already give, if any."""
        codes = (self.finding,) + self.answered_by
        if any(findings.status(code) is Status.PRESENT for code in codes):
            return self.present_when
        if any(findings.status(code) is Status.UNSURE for code in codes):
            return UNSURE
        if findings.status(self.finding) is Status.ABSENT:
            return self.absent_when
        return None


@functools.lru_cache(maxsize=None)
def load_questions(path: Path = QUESTIONS_FILE) -> Tuple[Question, ...]:
    specs = yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]
    questions = tuple(
        Question(
            **{
                key: tuple(value) if isinstance(value, list) else value  # type: ignore[arg-type]
                for key, value in spec.items()
            }
        )
        for spec in specs
    )
    for question in questions:
        if question.present_when not in (YES, NO):
            raise ValueError(f"{question.slot}: present_when must be yes or no")
    return questions


def question_slots() -> Tuple[str, ...]:
    return tuple(question.slot for question in load_questions())


def findings_of_record(record: Optional[Mapping]) -> Findings:
    """Findings from one message's finding-extractor record (the `findings` key of a parse result)."""
    if not record:
        return Findings()
    return Findings.of(
        present=record.get("present", ()), absent=record.get("absent", ()), unsure=record.get("unsure", ())
    )


def findings_of_answers(answers: Mapping[str, Optional[str]]) -> Findings:
    """Findings from the self-check's answers (slot -> yes / no / unsure)."""
    statuses = {}
    for question in load_questions():
        answer = answers.get(question.slot)
        if answer in ANSWERS:
            statuses[question.finding] = question.status_for(answer)
    return Findings(statuses)


def conversation_findings(records: Iterable[Optional[Mapping]], answers: Mapping[str, Optional[str]]) -> Findings:
    """Everything known, when the order does not matter: each message's findings, then the answers."""
    findings = Findings()
    for record in records:
        findings = findings.updated_by(findings_of_record(record))
    return findings.updated_by(findings_of_answers(answers))


@dataclass(frozen=True)
class Said:
    """What the patient told us in one turn: the words of a message (the finding extractor's
    record) and the self-check answers that message gave. `turn` is the event index of the message."""

    turn: int
    findings: Findings


def said_in_order(
    records: Iterable[Tuple[int, Optional[Mapping]]], answers: Mapping[str, Tuple[int, Optional[str]]]
) -> Tuple[Said, ...]:
    """One Said per user message, in conversation order, from the messages (event index, record)
    and the current answers (slot -> (index of the event that set it, value)).

    An answer belongs to the last message before it. Within a turn the words and the answer are
    combined most-urgent-first ("no... well, it is swollen", classified as "no", keeps the swelling);
    across turns what was said later replaces what was said before ("no injury", then "I fell").
    """
    records = sorted(records, key=lambda item: item[0])
    turns = {at: findings_of_record(record) for at, record in records}
    for slot, (set_at, value) in answers.items():
        if value not in ANSWERS:
            continue
        turn = max((at for at in turns if at <= set_at), default=None)
        answer = findings_of_answers({slot: value})
        if turn is None:
            turns[-1] = turns.get(-1, Findings()).most_urgent_with(answer)
        else:
            turns[turn] = turns[turn].most_urgent_with(answer)
    return tuple(Said(turn, with_implied_answers(findings)) for turn, findings in sorted(turns.items()))


def merge(said: Iterable[Said]) -> Findings:
    findings = Findings()
    for item in said:
        findings = findings.updated_by(item.findings)
    return findings


def earlier_and_latest(said: Sequence[Said]) -> Tuple[Findings, Findings]:
    """What was known before the latest message, and what the latest message (and its answer) said:
    the two halves that triage.escalation compares."""
    if not said:
        return Findings(), Findings()
    return merge(said[:-1]), said[-1].findings


def with_implied_answers(findings: Findings) -> Findings:
    """The findings plus the self-check findings they imply ("my kneecap won't go back in" answers
    "Has your kneecap come out of place and stayed out?"), so that the red-flag check on a message
    and the self-check's summary reach the same level from the same words."""
    return findings.most_urgent_with(_implied_by(frozenset(findings.statuses.items())))


@functools.lru_cache(maxsize=4096)
def _implied_by(statuses: FrozenSet[Tuple[str, Status]]) -> Findings:
    # Cached: the red-flag policy rereads every message of the conversation at each turn, and most
    # messages carry the same few findings (or none).
    return findings_of_answers(answers_already_given(Findings(dict(statuses)), {}))


def next_question(findings: Findings, answers: Mapping[str, Optional[str]]) -> Optional[Question]:
    """The next question to ask, or None when the self-check is complete."""
    for question in load_questions():
        if answers.get(question.slot) in ANSWERS:
            continue
        if question.applies(findings) and question.answer_already_given(findings) is None:
            return question
    return None


def answers_already_given(findings: Findings, answers: Mapping[str, Optional[str]]) -> dict:
    """Slot values for the questions the patient has answered in their own words."""
    given = {}
    for question in load_questions():
        if answers.get(question.slot) not in ANSWERS:
            answer = question.answer_already_given(findings)
            if answer is not None:
                given[question.slot] = answer
    return given


def ended_early(answers: Mapping[str, Optional[str]]) -> Optional[Question]:
    """The question whose answer ends the check (an under-16), if one was answered that way."""
    for question in load_questions():
        if question.ends_check and answers.get(question.slot) == question.present_when:
            return question
    return None
