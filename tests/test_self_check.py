"""The self-check's questions (clinical/content/self_check.yml) and their logic (clinical/self_check.py)."""

from __future__ import annotations

import pytest

from clinical.self_check import (
    NO,
    UNSURE,
    YES,
    answers_already_given,
    conversation_findings,
    ended_early,
    findings_of_answers,
    load_questions,
    next_question,
)
from clinical.triage import Findings, Level, Status, load_rules, triage
from scripts.build_self_check_domain import main as check_generated_domain

QUESTIONS = load_questions()
RULE_CODES = set().union(*(rule.findings for rule in load_rules()))
DESCRIPTIVE = {"grating_or_stiff"}  # asked for the article's signs and kept for staff; no rule uses it


def ask_all(answer_for, findings=None):
    """Walk the form: answer each next question with answer_for(question); the slots asked, in order."""
    findings = findings or Findings()
    answers, asked = {}, []
    while True:
        known = findings.updated_by(findings_of_answers(answers))
        question = next_question(known, answers)
        if question is None or ended_early(answers):
            return asked, answers
        asked.append(question.slot)
        answers[question.slot] = answer_for(question)


def test_every_question_asks_about_a_finding_the_triage_rules_use():
    assert [q.finding for q in QUESTIONS if q.finding not in RULE_CODES] == sorted(DESCRIPTIVE)
    for question in QUESTIONS:
        assert set(question.ask_if + question.ask_if_all + question.ask_unless) <= RULE_CODES | {
            q.finding for q in QUESTIONS
        }


def test_slots_are_unique_and_questions_are_questions():
    assert len({q.slot for q in QUESTIONS}) == len(QUESTIONS)
    assert all(q.slot.startswith("sc_") and "?" in q.text for q in QUESTIONS)


def test_the_generated_domain_part_is_up_to_date():
    assert check_generated_domain(["--check"]) == 0, "run `make domain`"


def test_all_no_answers_take_a_short_path_and_end_in_self_care_information():
    asked, answers = ask_all(lambda q: q.absent_when)
    # The follow-up questions of an injury, a hot joint, a swelling... are skipped.
    assert "sc_deformity" not in asked and "sc_fever" not in asked and "sc_rapid_swelling" not in asked
    assert asked[0] == "sc_adult" and asked[-1] == "sc_age_55"
    assert len(asked) <= 15
    assert triage(findings_of_answers(answers)).level is Level.SELF_CARE_INFO


def test_an_injury_brings_its_follow_up_questions():
    asked, _ = ask_all(lambda q: YES if q.slot == "sc_injury" else q.absent_when)
    assert {"sc_deformity", "sc_kneecap", "sc_lift_leg", "sc_giving_way"} <= set(asked)


def test_swelling_after_an_injury_asks_how_fast_it_swelled():
    asked, _ = ask_all(lambda q: YES if q.slot in ("sc_injury", "sc_swelling") else q.absent_when)
    assert {"sc_rapid_swelling", "sc_blood_thinners", "sc_fever"} <= set(asked)


def test_not_sure_counts_as_possible_and_brings_the_follow_up_questions():
    asked, answers = ask_all(lambda q: UNSURE if q.slot == "sc_injury" else q.absent_when)
    assert "sc_deformity" in asked
    assert findings_of_answers(answers).status("injury") is Status.UNSURE


def test_not_sure_to_every_question_is_never_self_care():
    _, answers = ask_all(lambda q: UNSURE)
    assert triage(findings_of_answers(answers)).level is Level.EMERGENCY


def test_an_under_16_ends_the_check_after_the_first_question():
    asked, answers = ask_all(lambda q: NO)
    assert asked == ["sc_adult"] and ended_early(answers).ends_check == "utter_self_check_under_16"


def test_what_the_patient_already_said_is_not_asked_again():
    said = Findings.of(present=["injury", "swelling"], absent=["fever"])
    given = answers_already_given(said, {})
    assert given["sc_injury"] == YES and given["sc_swelling"] == YES
    asked, _ = ask_all(lambda q: q.absent_when, findings=conversation_findings([], given).updated_by(said))
    assert "sc_injury" not in asked and "sc_swelling" not in asked


def test_an_answer_in_words_fills_a_question_with_the_opposite_polarity():
    # "I can't put any weight on it": the question is "Can you put weight on that leg...?"
    assert answers_already_given(Findings.of(present=["cannot_bear_weight"]), {})["sc_weight_bearing"] == NO
    assert answers_already_given(Findings.of(absent=["cannot_bear_weight"]), {})["sc_weight_bearing"] == YES


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q.slot)
def test_each_answer_maps_to_its_finding(question):
    assert findings_of_answers({question.slot: question.present_when}).status(question.finding) is Status.PRESENT
    assert findings_of_answers({question.slot: question.absent_when}).status(question.finding) is Status.ABSENT
    assert findings_of_answers({question.slot: UNSURE}).status(question.finding) is Status.UNSURE


# --- reading a conversation: turns, implications -----------------------------------------
from clinical.self_check import earlier_and_latest, merge, said_in_order, with_implied_answers  # noqa: E402


def record(present=(), absent=(), unsure=()):
    return {"present": list(present), "absent": list(absent), "unsure": list(unsure)}


def test_in_one_turn_the_more_urgent_of_words_and_answer_wins():
    # "no... well, it is swollen" classified as "no" to "Is the knee swollen?"
    said = said_in_order([(4, record(present=["swelling"]))], {"sc_swelling": (5, NO)})
    assert merge(said).status("swelling") is Status.PRESENT


def test_across_turns_what_was_said_later_counts():
    said = said_in_order([(1, record()), (4, record(present=["injury"]))], {"sc_injury": (2, NO)})
    assert merge(said).status("injury") is Status.PRESENT
    said = said_in_order([(1, record(present=["injury"])), (4, record())], {"sc_injury": (5, NO)})
    assert merge(said).status("injury") is Status.ABSENT


def test_the_latest_turn_is_split_from_what_came_before():
    said = said_in_order([(1, record(present=["injury"])), (4, record(present=["cannot_bear_weight"]))], {})
    earlier, latest = earlier_and_latest(said)
    assert earlier.status("injury") is Status.PRESENT and latest.status("cannot_bear_weight") is Status.PRESENT
    assert earlier_and_latest(()) == (Findings(), Findings())


@pytest.mark.parametrize("question", [q for q in QUESTIONS if q.answered_by], ids=lambda q: q.slot)
def test_words_reach_the_same_level_as_the_question_they_answer(question):
    """The red-flag check reads words; the summary reads answers. Each code that answers a question
    must reach at least the level of that answer, so the check never escalates later than the summary."""
    context = ["injury", "swelling", "pop", "hot_or_red_joint", "constant_or_night_pain", "foot_changes"]
    for code in question.answered_by:
        from_words = triage(with_implied_answers(Findings.of(present=[code, *context]))).level
        from_answer = triage(Findings.of(present=[code, question.finding, *context])).level
        assert from_words == from_answer, (question.slot, code)


def test_a_kneecap_out_of_place_that_will_not_go_back_is_an_emergency_but_stuck_alone_is_not():
    assert triage(with_implied_answers(Findings.of(present=["kneecap_dislocated", "kneecap_not_back"]))).is_emergency
    # "it's stuck" (kneecap_not_back's words) is also a locked knee: urgent, not an emergency
    assert triage(with_implied_answers(Findings.of(present=["kneecap_not_back", "locked"]))).level is Level.URGENT


def test_calf_pain_alone_does_not_answer_the_calf_question():
    assert triage(with_implied_answers(Findings.of(present=["calf_pain"]))).level is Level.SELF_CARE_INFO
