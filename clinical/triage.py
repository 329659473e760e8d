"""Triage: findings in, a level out, with the reasons. Pure Python: no Rasa imports.

The rules are data (content/red_flags.yml), each traced to ../shared/clinical-safety.md. The
red-flag check on every message (components/red_flag_policy.py) and the guided self-check
(actions/forms.py, actions/triage_replies.py) both come here, so that there is one place where
urgency is decided.

Safety properties, each with its own test:
  * "not sure" never lowers urgency: a finding the patient is unsure of counts as present;
  * a finding the patient denies ("no fever") never fires a rule;
  * the result is the highest level of every rule that fires (rules only ever raise urgency).
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, Mapping, Optional, Tuple

import yaml

RULES_FILE = Path(__file__).resolve().parent / "content" / "red_flags.yml"


class Level(enum.IntEnum):
    SELF_CARE_INFO = 0
    SEE_CLINICIAN = 1
    URGENT = 2
    EMERGENCY = 3

    @property
    def code(self) -> str:
        return self.name.lower()

    @classmethod
    def from_code(cls, code: str) -> "Level":
        return cls[code.upper()]


# What each level is called, to the patient (the self-check's result) and to staff (the hand-over):
# one name, so staff read what the patient was told.
LEVEL_NAMES = {
    Level.EMERGENCY: "Emergency",
    Level.URGENT: "Same-day care",
    Level.SEE_CLINICIAN: "See a clinician soon",
    Level.SELF_CARE_INFO: "Information and self-care",
}


class Status(enum.Enum):
    PRESENT = "present"
    ABSENT = "absent"
    UNSURE = "unsure"


@dataclass(frozen=True)
class Rule:
    id: str
    level: Level
    reason: str
    concern: str
    all_of: Tuple[str, ...] = ()
    any_of: Tuple[Tuple[str, ...], ...] = ()
    none_of: Tuple[str, ...] = ()
    crisis_line: bool = False
    safety_ref: str = ""

    @property
    def findings(self) -> FrozenSet[str]:
        return frozenset(self.all_of) | {f for group in self.any_of for f in group} | frozenset(self.none_of)

    def fires(self, findings: "Findings") -> bool:
        return (
            all(findings.possible(f) for f in self.all_of)
            and all(any(findings.possible(f) for f in group) for group in self.any_of)
            and not any(findings.status(f) is Status.PRESENT for f in self.none_of)
        )


@dataclass(frozen=True)
class Findings:
    """What is known about the patient: finding code -> present, absent or unsure."""

    statuses: Mapping[str, Status] = field(default_factory=dict)

    @classmethod
    def of(cls, present: Iterable[str] = (), absent: Iterable[str] = (), unsure: Iterable[str] = ()) -> "Findings":
        statuses: Dict[str, Status] = {code: Status.ABSENT for code in absent}
        statuses.update({code: Status.UNSURE for code in unsure})
        statuses.update({code: Status.PRESENT for code in present})
        return cls(statuses)

    def status(self, code: str) -> Optional[Status]:
        return self.statuses.get(code)

    def possible(self, code: str) -> bool:
        """Present, or the patient is not sure: either way it counts towards urgency."""
        return self.statuses.get(code) in (Status.PRESENT, Status.UNSURE)

    def most_urgent_with(self, other: "Findings") -> "Findings":
        """Two accounts of the same moment (a message's words and the button it pressed): the more
        urgent status wins for each finding (present over unsure over absent)."""
        rank = {Status.ABSENT: 0, Status.UNSURE: 1, Status.PRESENT: 2}
        statuses = dict(self.statuses)
        for code, status in other.statuses.items():
            if code not in statuses or rank[status] > rank[statuses[code]]:
                statuses[code] = status
        return Findings(statuses)

    def updated_by(self, newer: "Findings") -> "Findings":
        """Findings of a later message added to these. A later answer replaces an earlier one,
        except that it never turns a present finding into an unsure one."""
        statuses = dict(self.statuses)
        for code, status in newer.statuses.items():
            if not (status is Status.UNSURE and statuses.get(code) is Status.PRESENT):
                statuses[code] = status
        return Findings(statuses)


@dataclass(frozen=True)
class Reason:
    rule_id: str
    level: Level
    text: str
    concern: str


@dataclass(frozen=True)
class TriageResult:
    level: Level
    reasons: Tuple[Reason, ...]
    crisis_line: bool
    decided_at: str

    @property
    def is_emergency(self) -> bool:
        return self.level is Level.EMERGENCY

    def as_record(self, findings: Findings) -> dict:
        """The structured result to store with the conversation and hand to clinic staff."""
        return {
            "level": self.level.code,
            "reasons": [
                {"rule": r.rule_id, "level": r.level.code, "reason": r.text, "concern": r.concern} for r in self.reasons
            ],
            "findings": {code: status.value for code, status in sorted(findings.statuses.items())},
            "crisis_line": self.crisis_line,
            "decided_at": self.decided_at,
        }


def _rule(spec: dict) -> Rule:
    return Rule(
        id=spec["id"],
        level=Level.from_code(spec["level"]),
        reason=spec["reason"],
        concern=spec["concern"],
        all_of=tuple(spec.get("all_of", ())),
        any_of=tuple(tuple(group) for group in spec.get("any_of", ())),
        none_of=tuple(spec.get("none_of", ())),
        crisis_line=bool(spec.get("crisis_line", False)),
        safety_ref=spec["safety_ref"],
    )


@functools.lru_cache(maxsize=None)
def load_rules(path: Path = RULES_FILE) -> Tuple[Rule, ...]:
    specs = yaml.safe_load(path.read_text(encoding="utf-8"))["rules"]
    rules = tuple(_rule(spec) for spec in specs)
    ids = [rule.id for rule in rules]
    if len(ids) != len(set(ids)):
        raise ValueError("duplicate rule id in red_flags.yml")
    return rules


def triage(
    findings: Findings, rules: Optional[Tuple[Rule, ...]] = None, now: Optional[datetime] = None
) -> TriageResult:
    """The level for these findings: the highest of the rules that fire, else self-care information."""
    fired = [rule for rule in (rules or load_rules()) if rule.fires(findings)]
    fired.sort(key=lambda rule: -rule.level)
    level = fired[0].level if fired else Level.SELF_CARE_INFO
    return TriageResult(
        level=level,
        reasons=tuple(Reason(rule.id, rule.level, rule.reason, rule.concern) for rule in fired),
        crisis_line=any(rule.crisis_line for rule in fired),
        decided_at=(now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
    )


def escalation(
    earlier: Findings, latest: Findings, rules: Optional[Tuple[Rule, ...]] = None, now: Optional[datetime] = None
) -> Optional[TriageResult]:
    """The escalation the latest turn needs, if any.

    Everything said so far is triaged together (an injury in one message and "I can't stand on it"
    in the next is an emergency). The reply to the latest turn starts with an escalation when an
    urgent or emergency rule fires that a finding of the latest turn takes part in: a new red flag
    is escalated at once, a repeated one is escalated again, and a patient who has been told to call
    the emergency number is not told again when they only say "thanks".
    Returns the result restricted to those rules, or None.
    """
    rules = rules or load_rules()
    by_id = {rule.id: rule for rule in rules}
    result = triage(earlier.updated_by(latest), rules, now)
    stated = {code for code in latest.statuses if latest.possible(code)}
    reasons = tuple(
        reason for reason in result.reasons if reason.level >= Level.URGENT and by_id[reason.rule_id].findings & stated
    )
    if not reasons:
        return None
    return TriageResult(
        level=max(reason.level for reason in reasons),
        reasons=reasons,
        crisis_line=any(by_id[reason.rule_id].crisis_line for reason in reasons),
        decided_at=result.decided_at,
    )
