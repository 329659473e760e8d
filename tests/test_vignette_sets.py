"""The red-flag vignette sets (tests/vignettes/, and the blind rounds) are well-formed, big enough,
and held out of every training set.

They measure the red-flag check (tests/test_vignettes.py runs the assistant over them: recall must
be 100%, over-triage at most 10%).
"""

from collections import Counter
from pathlib import Path

import pytest
import yaml

from clinical.red_flag_check import kind_concerns
from clinical.red_flag_model import load_corpus
from clinical.triage import Level
from harness.blind_rounds import known_misses, load_round, rounds
from harness.nlu_sets import TRAINING_FILES, comparable, read_examples
from scripts.tune_red_flag_model import unspent_rounds

VIGNETTES = Path(__file__).resolve().parent / "vignettes"
SINGLE = yaml.safe_load((VIGNETTES / "single_messages.yml").read_text())["vignettes"]
CONVERSATIONS = yaml.safe_load((VIGNETTES / "conversations.yml").read_text())["conversations"]
# A second set, written blind after the first one had been used to improve the patterns (see README).
SINGLE_2 = yaml.safe_load((VIGNETTES / "round2" / "single_messages.yml").read_text())["vignettes"]
CONVERSATIONS_2 = yaml.safe_load((VIGNETTES / "round2" / "conversations.yml").read_text())["conversations"]
SETS = {"round1": (SINGLE, CONVERSATIONS), "round2": (SINGLE_2, CONVERSATIONS_2)}
# Messages this short are everyone's words ("yes", "hi", "how much is it"): a writer who never saw
# the training data writes them too.
EVERYONES_WORDS = 4
EMERGENCY_KINDS = {
    "deformity_after_injury",
    "cannot_bear_weight_after_injury",
    "septic_arthritis",
    "neurovascular",
    "tendon_rupture",
    "dvt",
    "pulmonary_embolism",
    "haemarthrosis",
    "patellar_dislocation_not_reducing",
    "chest_pain",
    "stroke",
    "breathing_difficulty",
    "suicidal_thoughts",
}


def test_single_messages_cover_every_red_flag_kind_and_enough_non_emergencies():
    ids = [v["id"] for v in SINGLE + SINGLE_2]
    assert len(ids) == len(set(ids))
    assert {v["level"] for v in SINGLE + SINGLE_2} <= {level.code for level in Level}
    emergencies = [v for v in SINGLE if v["level"] == "emergency"]
    assert len(emergencies) >= 80 and len(SINGLE) - len(emergencies) >= 80
    per_kind = Counter(v["kind"] for v in emergencies)
    assert set(per_kind) == EMERGENCY_KINDS and min(per_kind.values()) >= 6
    assert sum(v["kind"] == "negated_red_flag" for v in SINGLE) >= 20
    emergencies_2 = [v for v in SINGLE_2 if v["level"] == "emergency"]
    assert {v["kind"] for v in emergencies_2} == EMERGENCY_KINDS and len(emergencies_2) >= 70


def test_conversations_have_late_red_flags_and_quiet_ones():
    assert len(CONVERSATIONS) >= 30 and len(CONVERSATIONS_2) >= 20
    for conversation in CONVERSATIONS + CONVERSATIONS_2:
        at = conversation["escalate_at"]
        assert at is None or 1 <= at <= len(conversation["turns"]), conversation["id"]
    assert sum(c["escalate_at"] is not None and c["escalate_at"] > 1 for c in CONVERSATIONS) >= 20
    assert sum(c["escalate_at"] is None for c in CONVERSATIONS) >= 10


def test_no_vignette_is_in_the_training_data():
    training = {comparable(text) for _, text in read_examples(TRAINING_FILES)}
    texts = [v["text"] for v in SINGLE + SINGLE_2] + [
        turn for c in CONVERSATIONS + CONVERSATIONS_2 for turn in c["turns"]
    ]
    long_enough = [t for t in texts if len(t.split()) > EVERYONES_WORDS]
    assert [t for t in long_enough if comparable(t) in training] == []


# --- the blind rounds (tests/vignettes/blind/) ------------------------------------------------------

URGENT_KINDS = {"locked_knee", "giving_way_with_falls", "pop_with_swelling_or_instability"}


@pytest.mark.parametrize("name", rounds())
def test_a_blind_round_is_as_big_and_as_varied_as_the_brief_asks(name):
    round_ = load_round(name)
    ids = [v.id for v in round_.vignettes] + [c.id for c in round_.conversations]
    assert len(ids) == len(set(ids))
    emergencies = [v for v in round_.vignettes if v.level == "emergency"]
    assert len(emergencies) >= 250 and {v.kind for v in emergencies} == set(kind_concerns())
    assert len([v for v in round_.vignettes if v.level in ("see_clinician", "self_care_info")]) >= 150
    urgent = [v for v in round_.vignettes if v.level == "urgent"]
    assert len(urgent) >= 40 and {v.kind for v in urgent} == URGENT_KINDS
    assert len(round_.conversations) >= 40 and len(round_.writers) >= 3
    for conversation in round_.conversations:
        at = conversation.escalate_at
        assert at is None or 1 <= at <= len(conversation.turns), conversation.id


@pytest.mark.parametrize("name", rounds())
def test_known_misses_are_emergencies_of_a_spent_round_with_a_reason(name):
    known = known_misses(name)
    emergencies = {v.id for v in load_round(name).vignettes if v.level == "emergency"}
    assert set(known) <= emergencies and all(isinstance(why, str) and why.strip() for why in known.values())
    assert not known or name not in unspent_rounds(), "a round nobody has read the failures of has no known misses"


def test_no_blind_message_is_in_any_training_data():
    training = {comparable(text) for _, text in read_examples(TRAINING_FILES)}
    training |= {comparable(example.text) for example in load_corpus()}
    blind = [v.text for name in rounds() for v in load_round(name).vignettes]
    blind += [t for name in rounds() for c in load_round(name).conversations for t in c.turns]
    assert [t for t in blind if len(t.split()) > EVERYONES_WORDS and comparable(t) in training] == []
