"""The concept lexicons (clinical/lexicon/), their term syntax, the spelling normaliser and frames."""

from __future__ import annotations

import re

import pytest
import spacy
import yaml
from spacy.matcher import Matcher

from clinical.findings import shared_normaliser
from clinical.language import readable
from clinical.lexicon import LEXICON_DIR, Lexicon, TermCompiler, load_lexicon
from clinical.normalise import fold
from nlp.build_pipeline import load_pattern_spec, pipeline_dir

LEXICON = load_lexicon()


@pytest.fixture(scope="module")
def nlp():
    return spacy.load(pipeline_dir(load_pattern_spec()))


@pytest.fixture(scope="module")
def compiler(nlp):
    return TermCompiler(nlp, LEXICON)


def matches(nlp, compiler, term, text):
    matcher = Matcher(nlp.vocab, validate=True)
    matcher.add("t", [compiler.compile(term)])
    doc = nlp(text.lower())
    return [doc[s:e].text for _, s, e in matcher(doc)]


# --- the term syntax ----------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["it swelled", "it's swollen", "swelling up", "it swells"])
def test_a_base_form_matches_its_inflections(nlp, compiler, text):
    assert matches(nlp, compiler, "swell", text)


def test_another_form_matches_only_itself(nlp, compiler):
    assert matches(nlp, compiler, "tripped", "i tripped")
    assert not matches(nlp, compiler, "tripped", "my trip to spain")
    assert not matches(nlp, compiler, "=warm", "once it's warmed up")


def test_alternatives_optional_words_lists_concepts_gaps_and_regexes(nlp, compiler):
    assert matches(nlp, compiler, "like a? <round_thing>", "swollen like grapefruit")
    assert matches(nlp, compiler, "like a? <round_thing>", "like a melon")
    assert matches(nlp, compiler, "@modal @not walk", "i can't walk")
    assert matches(nlp, compiler, "@modal @not walk", "i cant walk")
    assert matches(nlp, compiler, "@modal @not walk", "i cannot walk")
    assert matches(nlp, compiler, "struggling ~ for breath", "struggling terribly for breath")
    assert not matches(nlp, compiler, "struggling ~ for breath", "struggling but for breath")
    assert matches(nlp, compiler, "#[1-9]\\d+ @pill", "took 20 tablets")
    assert not matches(nlp, compiler, "#[1-9]\\d+ @pill", "take 2 tablets")


def test_a_split_word_in_a_list_of_alternatives_is_refused(compiler):
    with pytest.raises(ValueError, match="single tokens"):
        compiler.compile("passed out and won't|still")


def test_every_term_of_every_lexicon_compiles(compiler):
    for concept in LEXICON.concepts.values():
        assert compiler.concept_patterns(concept), concept.name


def test_compiling_the_lexicons_indexes_only_their_own_words(nlp):
    """The Rasa server compiles the lexicons at load: the inflections of their own words are all it
    may index (the whole table left its heap 6 MiB bigger), and they are all the table has for them."""
    compiler = TermCompiler(nlp, LEXICON)
    for concept in LEXICON.concepts.values():
        compiler.concept_patterns(concept)
    assert "_all_inflections" not in vars(compiler), "a lexicon word was missing from _written_words"
    everything = TermCompiler(nlp, LEXICON)._all_inflections
    assert compiler._inflections == {lemma: everything[lemma] for lemma in compiler._inflections}
    assert set(compiler._inflections) == set(everything) & compiler._written_words


def test_lexicon_files_are_readable_in_a_diff():
    """One term per line, no flow lists of terms: a reviewer sees each added or removed word."""
    for path in LEXICON_DIR.glob("*.yml"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            assert len(line) <= 240, f"{path.name}:{number} is too long to review"
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for name, concept in (spec.get("concepts") or {}).items():
            assert concept.get("means"), f"{path.name}: {name} says what it means"


def test_a_concept_is_defined_once(tmp_path):
    for name in ("a.yml", "b.yml"):
        (tmp_path / name).write_text("concepts:\n  same:\n    means: x\n    en: [word]\n")
    with pytest.raises(ValueError, match="defined twice"):
        load_lexicon(tmp_path)


# --- the spelling normaliser --------------------------------------------------------------------
@pytest.mark.parametrize(
    "typed, meant",
    [
        ("swollon", "swollen"),
        ("dislocayted", "dislocated"),
        ("warfrin", "warfarin"),
        ("stragten", "straighten"),
        ("numbbb", "numb"),
        ("zarelto", "xarelto"),
        ("elliquis", "eliquis"),
        ("breathles", "breathless"),
        ("pantorila", "pantorilla"),
    ],
)
def test_misspelled_words_become_the_lexicon_words_they_stand_for(typed, meant):
    assert shared_normaliser().normalise(f"my knee is {typed}") == f"my knee is {meant}"


@pytest.mark.parametrize("word", ["half", "stolen", "marcar", "indo", "pierna"])
def test_real_words_are_never_corrected(word):
    assert shared_normaliser().normalise(word) == word


@pytest.mark.parametrize(
    "typed, meant",
    [
        ("my cantwalk", "my cant walk"),
        ("kneepain since tuesday", "knee pain since tuesday"),
        ("now cantcatch me breath", "now cant catch me breath"),
    ],
)
def test_two_words_run_together_are_split(typed, meant):
    assert shared_normaliser().normalise(typed) == meant


@pytest.mark.parametrize("word", ["marcar", "caminar", "shaquille", "whatsoever"])
def test_a_word_is_not_split_into_pieces_it_does_not_mean(word):
    assert shared_normaliser().normalise(word) == word


def test_accents_case_and_phone_punctuation_are_folded():
    assert fold("Está CALIENTE, can’t walk") == "esta caliente, can't walk"
    assert fold("sooooo swolllen") == "soo swollen"


def test_scripts_the_assistant_cannot_read():
    assert not readable("무릎뼈가 옆으로 빠졌는데")
    assert not readable("胸口不疼，也不 short of breath")
    assert readable("Me caí y no puedo caminar") and readable("my knee 😭😭") and readable("")


def test_only_project_words_are_correction_targets():
    vocabulary = LEXICON.vocabulary()
    assert "swollen" in vocabulary and "warfarin" in vocabulary
    assert all(re.fullmatch(r"[a-z']+", word) or not word.isascii() for word in vocabulary)
    assert isinstance(LEXICON, Lexicon)
