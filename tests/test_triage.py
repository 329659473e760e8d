"""The triage rules (clinical/content/red_flags.yml) and the engine (clinical/triage.py)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from clinical.articles import DEFAULT_ARTICLES_DIR, normalise
from clinical.triage import Findings, Level, Status, load_rules, triage

RULES = load_rules()
SAFETY_FILE = DEFAULT_ARTICLES_DIR.parent / "clinical-safety.md"


def minimal_findings(rule):
    """The fewest findings that make this rule fire."""
    return set(rule.all_of) | {group[0] for group in rule.any_of}


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.id)
def test_every_rule_traces_to_the_safety_reference(rule):
    assert rule.safety_ref and normalise(rule.safety_ref) in normalise(SAFETY_FILE.read_text()), rule.safety_ref


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.id)
def test_every_rule_fires_on_its_findings_at_its_level(rule):
    result = triage(Findings.of(present=minimal_findings(rule)))
    assert rule.id in [reason.rule_id for reason in result.reasons]
    assert result.level >= rule.level


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.id)
def test_not_sure_never_lowers_urgency(rule):
    result = triage(Findings.of(unsure=minimal_findings(rule)))
    assert result.level >= rule.level


@pytest.mark.parametrize("rule", [r for r in RULES if r.all_of], ids=lambda rule: rule.id)
def test_a_denied_finding_does_not_fire_the_rule(rule):
    for denied in rule.all_of:
        present = minimal_findings(rule) - {denied}
        result = triage(Findings.of(present=present, absent=[denied]))
        assert rule.id not in [reason.rule_id for reason in result.reasons]


def test_nothing_known_is_self_care_information():
    result = triage(Findings.of())
    assert result.level is Level.SELF_CARE_INFO and result.reasons == ()


def test_all_denied_is_self_care_information():
    everything = set().union(*(rule.findings for rule in RULES))
    assert triage(Findings.of(absent=everything)).level is Level.SELF_CARE_INFO


@pytest.mark.parametrize(
    "present,absent,level",
    [
        (["injury", "deformity"], [], Level.EMERGENCY),
        (["injury", "cannot_bear_weight"], [], Level.EMERGENCY),
        (["hot_or_red_joint", "swelling", "fever"], [], Level.EMERGENCY),
        (["hot_or_red_joint", "swelling"], ["fever", "chills", "unwell"], Level.SELF_CARE_INFO),
        (["calf_pain", "calf_swelling"], [], Level.EMERGENCY),
        (["injury", "numbness"], [], Level.EMERGENCY),
        (["pop", "cannot_lift_straight_leg"], [], Level.EMERGENCY),
        (["injury", "rapid_swelling"], [], Level.EMERGENCY),
        (["kneecap_dislocated", "kneecap_not_back"], [], Level.EMERGENCY),
        (["suicidal"], [], Level.EMERGENCY),
        (["locked"], [], Level.URGENT),
        (["pop", "swelling"], [], Level.URGENT),
        (["cannot_straighten"], [], Level.URGENT),
        (["extreme_pain"], [], Level.SEE_CLINICIAN),
        (["pop"], [], Level.SEE_CLINICIAN),
        (["pop", "painless"], [], Level.SELF_CARE_INFO),  # painless clicking alone is not urgent
        (["pop", "cannot_straighten"], [], Level.EMERGENCY),  # "cannot straighten ... after a pop"
        # "When two tiers fit, take the higher": a pop, snap or fall, then a knee that won't straighten
        # (whether the patient calls it locked or not) is tier E ...
        (["pop", "cannot_straighten", "locked"], [], Level.EMERGENCY),
        (["fall", "injury", "cannot_straighten"], [], Level.EMERGENCY),
        (["fall", "injury", "locked"], [], Level.EMERGENCY),
        # ... while locking after a twist, with no pop and no fall, stays urgent
        (["injury", "locked", "cannot_straighten"], [], Level.URGENT),
        (["injury", "locked"], ["pop", "fall"], Level.URGENT),
        (["unresponsive"], [], Level.EMERGENCY),
        (["overdose"], [], Level.EMERGENCY),
        (["injury", "extreme_swelling", "recent"], [], Level.EMERGENCY),
        (["injury", "extreme_swelling"], [], Level.SEE_CLINICIAN),
        (["night_pain", "weight_loss"], [], Level.SEE_CLINICIAN),
        (["child", "hip_pain"], [], Level.SEE_CLINICIAN),
    ],
)
def test_examples_from_the_safety_reference(present, absent, level):
    assert triage(Findings.of(present=present, absent=absent)).level is level


def test_ottawa_items_raise_urgency_and_never_lower_it():
    assert triage(Findings.of(present=["injury"])).level is Level.SELF_CARE_INFO
    assert triage(Findings.of(present=["injury", "age_55_plus"])).level is Level.URGENT
    assert triage(Findings.of(present=["injury", "cannot_bend_90"])).level is Level.URGENT
    assert triage(Findings.of(present=["injury", "cannot_walk_4_steps"])).level is Level.EMERGENCY
    # age on top of an emergency leaves it an emergency
    assert triage(Findings.of(present=["injury", "deformity", "age_55_plus"])).level is Level.EMERGENCY
    # being under 55 lowers nothing
    assert (
        triage(Findings.of(present=["injury", "cannot_bear_weight"], absent=["age_55_plus"])).level is Level.EMERGENCY
    )


def test_the_highest_level_wins_and_every_reason_is_kept():
    result = triage(Findings.of(present=["extreme_pain", "locked", "injury", "deformity"]))
    assert result.level is Level.EMERGENCY
    assert [r.rule_id for r in result.reasons][:1] == ["deformity_after_injury"]
    assert {"locked_knee", "extreme_pain"} <= {r.rule_id for r in result.reasons}


def test_only_thoughts_of_suicide_bring_the_crisis_line():
    assert triage(Findings.of(present=["suicidal"])).crisis_line
    assert not triage(Findings.of(present=["chest_pain"])).crisis_line


def test_a_later_unsure_answer_never_undoes_a_present_finding():
    earlier = Findings.of(present=["injury", "cannot_bear_weight"])
    later = earlier.updated_by(Findings.of(unsure=["cannot_bear_weight"]))
    assert later.status("cannot_bear_weight") is Status.PRESENT
    assert triage(later).level is Level.EMERGENCY


def test_structured_result_for_clinic_staff():
    findings = Findings.of(present=["locked"], absent=["injury"])
    when = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
    record = triage(findings, now=when).as_record(findings)
    assert record == {
        "level": "urgent",
        "reasons": [
            {
                "rule": "locked_knee",
                "level": "urgent",
                "reason": "your knee has locked or got stuck and will not fully straighten",
                "concern": "a torn meniscus caught in the joint",
            }
        ],
        "findings": {"injury": "absent", "locked": "present"},
        "crisis_line": False,
        "decided_at": "2026-11-20T12:00:00+00:00",
    }


# --- escalation: which turn's reply starts with the red flag ---------------------------------
from clinical.triage import escalation  # noqa: E402


def test_findings_spread_over_two_messages_escalate_on_the_second():
    result = escalation(Findings.of(present=["injury"]), Findings.of(present=["cannot_bear_weight"]))
    assert result.level is Level.EMERGENCY
    assert [r.rule_id for r in result.reasons] == ["cannot_bear_weight_after_injury"]


def test_a_message_that_adds_nothing_is_not_escalated_again():
    said = Findings.of(present=["injury", "cannot_bear_weight"])
    assert escalation(said, Findings.of()) is None
    assert escalation(said, Findings.of(present=["stiffness"])) is None


def test_a_repeated_red_flag_is_escalated_again():
    said = Findings.of(present=["injury", "cannot_bear_weight"])
    assert escalation(said, Findings.of(present=["cannot_bear_weight"])).is_emergency


def test_only_urgent_and_emergency_rules_escalate():
    assert escalation(Findings.of(), Findings.of(present=["extreme_pain"])) is None
    assert escalation(Findings.of(), Findings.of(present=["locked"])).level is Level.URGENT


def test_a_denial_in_the_latest_message_escalates_nothing():
    assert escalation(Findings.of(present=["injury"]), Findings.of(absent=["cannot_bear_weight"])) is None


def test_not_sure_in_the_latest_message_escalates():
    result = escalation(Findings.of(present=["injury"]), Findings.of(unsure=["deformity"]))
    assert result.is_emergency


def test_escalation_keeps_only_the_rules_the_latest_message_took_part_in():
    result = escalation(Findings.of(present=["locked"]), Findings.of(present=["suicidal"]))
    assert [r.rule_id for r in result.reasons] == ["suicidal_thoughts"] and result.crisis_line


@pytest.mark.parametrize(
    "question_code,with_codes",
    [
        ("foot_changes", ["injury"]),
        ("foot_cold_pale_or_blue", []),
        ("fever_or_unwell", ["hot_or_red_joint"]),
        ("calf_signs", []),
        ("blood_thinners_or_bleeding_disorder", ["swelling", "injury"]),
        ("kneecap_out_now", []),
    ],
)
def test_the_self_checks_questions_reach_the_emergency_rules(question_code, with_codes):
    assert triage(Findings.of(present=[question_code, *with_codes])).level is Level.EMERGENCY


def test_a_fever_with_a_swollen_knee_is_an_emergency_even_without_saying_hot():
    assert triage(Findings.of(present=["swelling", "fever"])).level is Level.EMERGENCY
