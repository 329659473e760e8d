"""The project's blank English spaCy pipeline: versioned path, fresh build, lemmas and entities."""

import json

import pytest
import spacy

from nlp.build_pipeline import PATTERNS_FILE, build, load_pattern_spec, pipeline_dir, spacy_nlp_config
from tests.conftest import ROOT

SPEC = load_pattern_spec()


def test_config_loads_the_pipeline_of_the_current_pattern_version():
    assert (ROOT / spacy_nlp_config()["model"]) == pipeline_dir(SPEC), "bump the version in config.yml too"


def test_built_pipeline_matches_the_pattern_file():
    """If this fails, the patterns changed without `make install` rebuilding the pipeline."""
    import hashlib

    meta = json.loads((pipeline_dir(SPEC) / "meta.json").read_text())
    assert meta["version"] == SPEC["version"]
    assert meta["patterns_sha256"] == hashlib.sha256(PATTERNS_FILE.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def nlp():
    return spacy.load(pipeline_dir(SPEC))


# Rasa's SpacyNLP is configured with case_sensitive: false, so the pipeline always sees lowercase
# text (the lookup lemmatizer keys on exact text: "Knees" would get no lemma). Feed it the same way.
@pytest.mark.parametrize(
    "text,expected",
    [
        ("My Knees hurt", [("knees", "knee_part"), ("hurt", "article_term")]),
        ("how much do stemcells cost", [("stemcells", "treatment"), ("cost", "article_term")]),
        ("pain in my lower back", [("pain", "article_term"), ("lower back", "other_body_part")]),
        ("the pain came back", [("pain", "article_term")]),
        ("how do i reverse a list in python", []),
        ("max dose of Aleve?", [("dose", "medicine"), ("aleve", "medicine")]),
        ("is PRP better than stem cells", [("prp", "other_treatment"), ("stem cells", "treatment")]),
        ("what is osteoarthritis", [("osteoarthritis", "condition")]),
    ],
)
def test_entities(nlp, text, expected):
    assert [(ent.text, ent.label_) for ent in nlp(text.lower()).ents] == expected


def test_rasa_lowercases_before_the_pipeline():
    assert spacy_nlp_config()["case_sensitive"] is False


def test_lookup_lemmas(nlp):
    assert [token.lemma_ for token in nlp("knees were swelling")] == ["knee", "be", "swell"]


def test_build_is_reproducible_from_the_pattern_file():
    fresh = build(SPEC)
    assert fresh.pipe_names == ["lemmatizer", "entity_ruler"]
    assert [(e.text, e.label_) for e in fresh("stem cells for my shoulder").ents] == [
        ("stem cells", "treatment"),
        ("shoulder", "other_body_part"),
    ]


def test_rasa_and_the_finding_extractor_read_with_one_copy_of_the_pipeline():
    """components/spacy_nlp.py: a second copy held about 14 MiB more in the Rasa server."""
    from components.finding_extractor import FindingExtractor
    from components.spacy_nlp import SpacyNLP

    config = {**SpacyNLP.get_default_config(), **spacy_nlp_config()}
    config["model"] = str(ROOT / config["model"])
    rasa_model = SpacyNLP.create(config, None, None, None).provide()
    assert FindingExtractor()._extractor.nlp is rasa_model.model
    assert rasa_model.model.pipe_names == spacy.load(pipeline_dir(SPEC)).pipe_names
