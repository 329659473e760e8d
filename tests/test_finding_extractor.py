"""The finding extractor (clinical/findings.py) with its pattern data (clinical/patterns/findings.yml, context.yml).

Development examples live in tests/findings/examples.yml; the focused tests below pin down each kind of
context (negation and where it stops, pseudo-negation, uncertainty, hypothetical, past history, someone
else), the "most urgent status wins" merge, and the link with the triage rules.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set

import pytest
import yaml

from clinical.findings import CONTEXT_FILE, FINDINGS_FILE, Extraction, FindingReader, Mention, load_spec
from nlp.build_pipeline import spacy_nlp_config
from tests.conftest import ROOT

EXAMPLES_FILE = ROOT / "tests" / "findings" / "examples.yml"
RED_FLAGS_FILE = ROOT / "clinical" / "content" / "red_flags.yml"
SELF_CHECK_FILE = ROOT / "clinical" / "content" / "self_check.yml"
CURRENT = ("present", "unsure")

# Codes the triage rules use that only the guided self-check asks about: each is one closed question
# covering several findings at once ("fever or feeling unwell?"), never a phrase a patient writes. Every
# finding inside them has its own code in findings.yml (fever, unwell, cold_foot, calf_pain...).
SELF_CHECK_ONLY = {
    "blood_thinners_or_bleeding_disorder",
    "calf_signs",
    "constant_or_night_pain",
    "fever_or_unwell",
    "foot_changes",
    "foot_cold_pale_or_blue",
    "kneecap_out_now",
    "lump_or_cancer_history",
}


def spacy_model_path() -> Path:
    """The spaCy pipeline Rasa loads: config.yml's SpacyNLP `model`, relative to the repository root."""
    return ROOT / spacy_nlp_config()["model"]


@pytest.fixture(scope="module")
def extractor() -> FindingReader:
    return FindingReader.from_model(spacy_model_path())


def load_examples() -> List[Dict[str, Any]]:
    return yaml.safe_load(EXAMPLES_FILE.read_text(encoding="utf-8"))["examples"]


def short_id(text: str) -> str:
    return text if len(text) <= 50 else text[:47] + "..."


def statuses(extractor: FindingReader, text: str) -> Dict[str, str]:
    return extractor.extract(text).statuses


def contexts_of(extraction: Extraction, code: str) -> List[tuple]:
    return [mention.contexts for mention in extraction.mentions if mention.code == code]


# ---------------------------------------------------------------------------------------------------
# The development examples
# ---------------------------------------------------------------------------------------------------
EXAMPLES = load_examples()


@pytest.mark.parametrize("example", EXAMPLES, ids=[short_id(example["text"]) for example in EXAMPLES])
def test_example(extractor, example):
    extraction = extractor.extract(example["text"])
    found = extraction.statuses
    for code in example.get("present") or []:
        assert found.get(code) in CURRENT, f"{code} should be present or unsure: {extraction.as_dict()}"
    for code in example.get("absent") or []:
        assert found.get(code) == "absent", f"{code} should be absent: {extraction.as_dict()}"
    for code in example.get("not_current") or []:
        assert found.get(code) not in CURRENT, f"{code} should not be current: {extraction.as_dict()}"
    if "subject" in example:
        assert extraction.subject == example["subject"], extraction.as_dict()


def test_examples_use_only_known_codes(extractor):
    known = set(extractor.codes)
    used = {
        code for example in EXAMPLES for key in ("present", "absent", "not_current") for code in example.get(key) or []
    }
    assert used <= known, sorted(used - known)


def test_every_finding_has_a_description_and_an_example_where_it_is_found():
    findings = load_spec(FINDINGS_FILE)["findings"]
    shown = {code for example in EXAMPLES for code in example.get("present") or []}
    assert all(spec.get("description") for spec in findings.values())
    assert set(findings) <= shown, f"codes no example shows being found: {sorted(set(findings) - shown)}"


def test_there_are_enough_examples_of_every_kind():
    assert len(EXAMPLES) >= 200
    assert sum(bool(example.get("absent")) for example in EXAMPLES) >= 20
    assert sum(bool(example.get("not_current")) for example in EXAMPLES) >= 60


# ---------------------------------------------------------------------------------------------------
# Negation: short, forward, stopped by terminators and new clauses
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,code",
    [
        ("no fever", "fever"),
        ("I haven't had a fever", "fever"),
        ("didnt fall", "injury"),
        ("it is not swollen", "swelling"),
        ("without any injury", "injury"),
        ("never fell", "injury"),
        ("no fever or chills", "chills"),
    ],
)
def test_negation_makes_a_finding_absent(extractor, text, code):
    assert statuses(extractor, text).get(code) == "absent"


@pytest.mark.parametrize(
    "text",
    [
        "no fever but I can't walk",
        "no fever but cant walk",
        "no fever, cant walk",
        "no fever - cant walk",
        "no fever i cant walk",
        "no fever and cant walk",
        "no fever though cant walk",
        "no fever now cant walk",
        "no fever just cant walk",
    ],
)
def test_negation_stops_at_a_terminator_or_a_new_clause(extractor, text):
    found = statuses(extractor, text)
    assert found["fever"] == "absent"
    assert found["cannot_bear_weight"] == "present"


def test_negation_does_not_cross_just_or_it(extractor):
    """The safety argument's own example: "didn't fall, it just swelled" keeps the swelling."""
    for text in (
        "didn't fall, it just swelled",
        "didnt fall it just swelled",
        "didnt fall or anything just swelled up",
    ):
        found = statuses(extractor, text)
        assert found["swelling"] == "present", text
        assert found["injury"] == "absent", text


def test_negation_reaches_at_most_five_words(extractor):
    assert statuses(extractor, "not had a chance to see anyone about the swelling")["swelling"] == "present"
    assert statuses(extractor, "haven't had any fever or chills")["chills"] == "absent"


def test_a_negation_inside_a_finding_belongs_to_the_finding(extractor):
    assert statuses(extractor, "I can't walk") == {"cannot_bear_weight": "present"}
    assert statuses(extractor, "it doesn't hurt")["painless"] == "present"


def test_being_able_is_never_an_inability(extractor):
    for text in ("I can walk", "I can put weight on it", "i can stand on it fine", "I can walk far"):
        assert statuses(extractor, text).get("cannot_bear_weight") not in CURRENT, text


def test_qualifiers_show_the_word_is_not_the_finding(extractor):
    assert statuses(extractor, "I can't walk far").get("cannot_bear_weight") == "absent"
    assert statuses(extractor, "i cant stand for long").get("cannot_bear_weight") == "absent"
    assert statuses(extractor, "I fell asleep on the sofa").get("injury") == "absent"
    assert statuses(extractor, "i have hay fever").get("fever") == "absent"
    # ...but the same words without the qualifier are the finding
    assert statuses(extractor, "I fell on the sofa")["injury"] == "present"
    assert statuses(extractor, "I can't walk")["cannot_bear_weight"] == "present"


def test_terminators_and_stoppers_have_a_one_word_scope():
    """medspaCy 1.3.1 lets a cue stop another only when its scope does not contain the other's
    (medspacy.util.tuple_overlaps is not symmetric); a stopper with a wide scope silently stops nothing."""
    rules = load_spec(CONTEXT_FILE)["rules"]
    stoppers = [rule for rule in rules if rule["direction"] in ("TERMINATE", "PSEUDO")]
    assert stoppers and all(rule.get("max_scope") == 1 for rule in stoppers), [
        rule["literal"] for rule in stoppers if rule.get("max_scope") != 1
    ]


# ---------------------------------------------------------------------------------------------------
# Pseudo-negation: a negation word that negates nothing
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,code",
    [
        ("not only is it swollen it is hot", "swelling"),
        ("no doubt it is swollen", "swelling"),
        ("no idea why it's swollen", "swelling"),
        ("can't stop shivering", "chills"),
        ("the swelling won't go down", "swelling"),
        ("nothing helps the swelling", "swelling"),
    ],
)
def test_pseudo_negation_does_not_negate(extractor, text, code):
    assert statuses(extractor, text)[code] == "present"


def test_not_sure_is_uncertainty_not_negation(extractor):
    assert statuses(extractor, "not sure if i have a fever")["fever"] == "unsure"


# ---------------------------------------------------------------------------------------------------
# Uncertainty: unsure, which still counts for urgency
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,code",
    [
        ("I think it's swollen", "swelling"),
        ("maybe a temperature", "fever"),
        ("it might be swollen", "swelling"),
        ("kind of swollen", "swelling"),
        ("looks like it's out of place", "deformity"),
        ("it's swollen i think", "swelling"),
    ],
)
def test_uncertainty_makes_a_finding_unsure(extractor, text, code):
    assert statuses(extractor, text)[code] == "unsure"


def test_uncertainty_stops_at_a_terminator(extractor):
    assert statuses(extractor, "i think it's broken, my knee is swollen")["swelling"] == "present"


# ---------------------------------------------------------------------------------------------------
# Hypothetical and past: not current
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,code",
    [
        ("what if it swells", "swelling"),
        ("should I worry if my knee swells", "swelling"),
        ("in case I fall", "injury"),
        ("what should i do if i cant put weight on it", "cannot_bear_weight"),
        ("I'm scared of falling", "injury"),
    ],
)
def test_hypothetical_is_not_current(extractor, text, code):
    extraction = extractor.extract(text)
    assert code not in extraction.statuses
    assert ("hypothetical",) in contexts_of(extraction, code)


@pytest.mark.parametrize(
    "text,code",
    [
        ("I broke my leg in 2015", "injury"),
        ("i dislocated my kneecap years ago", "kneecap_dislocated"),
        ("I used to get swelling after football", "swelling"),
        ("my knee would lock when I was a teenager", "locked"),
    ],
)
def test_past_history_is_not_current(extractor, text, code):
    extraction = extractor.extract(text)
    assert code not in extraction.statuses
    assert any("historical" in contexts for contexts in contexts_of(extraction, code))


def test_a_recent_injury_is_current(extractor):
    assert statuses(extractor, "i fell 2 weeks ago and still cant walk")["injury"] == "present"
    assert statuses(extractor, "I fell last week")["injury"] == "present"


def test_past_history_stops_at_now(extractor):
    found = statuses(extractor, "I broke my leg in 2015 and now my knee is swollen")
    assert found["swelling"] == "present"
    assert "injury" not in found


def test_cancer_history_is_history_by_nature(extractor):
    for text in ("I had cancer 10 years ago", "history of breast cancer", "finished chemo in 2019"):
        assert statuses(extractor, text)["cancer_history"] == "present", text


def test_an_explicit_hypothetical_does_not_hide_an_unpunctuated_emergency(extractor):
    found = statuses(extractor, "what do i do my son fell and cant walk")
    assert found["injury"] == found["cannot_bear_weight"] == "present"


# ---------------------------------------------------------------------------------------------------
# Someone else: recorded, never removes a finding
# ---------------------------------------------------------------------------------------------------
def test_someone_else_now_stays_current(extractor):
    extraction = extractor.extract("my son fell off his bike and can't walk")
    assert extraction.statuses == {"injury": "present", "fall": "present", "cannot_bear_weight": "present"}
    assert extraction.subject == "someone_else"
    assert all("other_person" in mention.contexts for mention in extraction.mentions)


def test_someone_else_in_the_past_is_not_current(extractor):
    extraction = extractor.extract("my mum had a dislocation years ago")
    assert extraction.statuses == {}
    assert contexts_of(extraction, "injury") == [("historical", "other_person")]


def test_the_patient_is_the_subject_by_default(extractor):
    assert extractor.extract("my knee is swollen").subject == "self"
    assert extractor.extract("my son's knee is fine but mine is swollen").subject == "self"


# ---------------------------------------------------------------------------------------------------
# The merge: the most urgent way a code is said wins
# ---------------------------------------------------------------------------------------------------
def mention(code: str, *contexts: str) -> Mention:
    return Mention(code=code, text=code, start=0, end=len(code), contexts=tuple(contexts))


def test_present_beats_absent_in_either_order():
    for mentions in (
        (mention("swelling", "negated"), mention("swelling")),
        (mention("swelling"), mention("swelling", "negated")),
    ):
        assert Extraction(mentions).statuses == {"swelling": "present"}


def test_unsure_beats_absent_and_present_beats_unsure():
    assert Extraction((mention("fever", "negated"), mention("fever", "uncertain"))).statuses == {"fever": "unsure"}
    assert Extraction((mention("fever", "uncertain"), mention("fever"))).statuses == {"fever": "present"}
    assert Extraction((mention("fever"), mention("fever", "uncertain"))).statuses == {"fever": "present"}


def test_not_current_mentions_do_not_count():
    assert Extraction((mention("injury", "historical"), mention("injury", "hypothetical", "negated"))).statuses == {}
    assert Extraction((mention("injury", "historical"), mention("injury", "negated"))).statuses == {"injury": "absent"}


def test_said_both_ways_in_a_message_counts_as_present(extractor):
    found = statuses(extractor, "no swelling. actually it is swollen now I look")
    assert found["swelling"] == "present"


# ---------------------------------------------------------------------------------------------------
# The link with the triage rules
# ---------------------------------------------------------------------------------------------------
def rule_codes(rules: List[Dict[str, Any]]) -> Set[str]:
    codes: Set[str] = set()
    for rule in rules:
        codes |= set(rule.get("all_of") or []) | set(rule.get("none_of") or [])
        for group in rule.get("any_of") or []:
            codes |= set(group)
    return codes


def self_check_findings(node: Any) -> Iterator[str]:
    """Every `finding:` value in the self-check content, wherever it sits."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "finding" and isinstance(value, str):
                yield value
            else:
                yield from self_check_findings(value)
    elif isinstance(node, list):
        for item in node:
            yield from self_check_findings(item)


def test_every_code_a_triage_rule_uses_can_be_found_or_asked(extractor):
    rules = yaml.safe_load(RED_FLAGS_FILE.read_text(encoding="utf-8"))["rules"]
    findable = set(extractor.codes)  # finding patterns, lexicon concepts and frames
    missing = rule_codes(rules) - findable - SELF_CHECK_ONLY
    assert not missing, f"triage rules use codes no pattern finds: {sorted(missing)}"


def test_the_self_check_only_codes_are_real_self_check_questions(extractor):
    assert not SELF_CHECK_ONLY & set(extractor.codes), "now findable: drop from SELF_CHECK_ONLY"
    if SELF_CHECK_ONLY:
        asked = set(self_check_findings(yaml.safe_load(SELF_CHECK_FILE.read_text(encoding="utf-8"))))
        assert SELF_CHECK_ONLY <= asked, sorted(SELF_CHECK_ONLY - asked)


def test_reading_messages_does_not_load_nltk_until_something_uses_it():
    """medspaCy imports QuickUMLS, which imports NLTK (21 MiB) that ConText never uses: it is deferred
    (clinical/findings.py), and still loads, whole, when touched."""
    code = (
        "import sys\n"
        "from clinical.findings import medspacy_context\n"
        "medspacy_context()\n"
        "print(sum(name.startswith('nltk.') for name in sys.modules))\n"
        "from quickumls import core\n"
        "print(core.nltk.stem.PorterStemmer().stem('swelling'))\n"
        "print(sum(name.startswith('nltk.') for name in sys.modules) > 100)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["0", "swell", "True"]
