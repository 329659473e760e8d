"""The content records: traceable to the articles, complete, reachable, and safely worded."""

from __future__ import annotations

import re

import pytest
import yaml

from clinical.articles import DEFAULT_ARTICLES_DIR, load_library, normalise
from harness.nlu_sets import TRAINING_FILES, read_examples
from tests.conftest import ROOT, load_domain

LIBRARY = load_library()
TOPICS = sorted(LIBRARY.topics.values(), key=lambda topic: topic.intent)
ARTICLE_INTENTS = yaml.safe_load((ROOT / "domain" / "articles.yml").read_text())["intents"]


ARTICLE_TEXTS = {
    key: normalise((DEFAULT_ARTICLES_DIR / article.file).read_text(encoding="utf-8"))
    for key, article in LIBRARY.articles.items()
}
TRAINING_EXAMPLES = read_examples(TRAINING_FILES)


def article_text(article) -> str:
    return ARTICLE_TEXTS[article.key]


def sentences(text: str):
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
        sentence = normalise(sentence)
        if len(sentence.split()) >= 6:
            yield sentence


def shares_stretch(sentence: str, fragments, length: int = 30) -> bool:
    """True if some fragment contains a verbatim stretch of `length` characters of the sentence."""
    if len(sentence) <= length:
        return any(sentence in fragment for fragment in fragments)
    return any(
        sentence[start : start + length] in fragment
        for start in range(0, len(sentence) - length + 1)
        for fragment in fragments
    )


@pytest.mark.parametrize("topic", TOPICS, ids=lambda topic: topic.intent)
def test_every_quote_is_verbatim_in_its_article(topic):
    for article, quote in topic.quotes:
        assert normalise(quote) in article_text(article), f"{topic.intent}: not in {article.file}: {quote!r}"


@pytest.mark.parametrize("article", LIBRARY.articles.values(), ids=lambda article: article.key)
def test_quotes_cover_every_sentence_of_the_article(article):
    fragments = [normalise(quote) for topic in TOPICS for a, quote in topic.quotes if a.key == article.key]
    fragments += [normalise(text) for text in article.excluded]
    text = (DEFAULT_ARTICLES_DIR / article.file).read_text(encoding="utf-8")
    uncovered = [s for s in sentences(text) if not shares_stretch(s, fragments)]
    assert uncovered == [], f"sentences of {article.file} no record quotes or excludes"


@pytest.mark.parametrize("article", LIBRARY.articles.values(), ids=lambda article: article.key)
def test_excluded_fragments_are_in_the_article(article):
    for fragment in article.excluded:
        assert normalise(fragment) in article_text(article)


def test_topics_are_exactly_the_article_intents_of_the_domain():
    assert set(LIBRARY.topics) == set(ARTICLE_INTENTS)
    assert set(ARTICLE_INTENTS) <= set(load_domain()["intents"])


def test_one_rule_sends_every_topic_to_the_answer_action():
    rules = yaml.safe_load((ROOT / "data" / "rules" / "articles.yml").read_text())["rules"]
    (rule,) = rules
    intents = {step["intent"] for step in rule["steps"][0]["or"]}
    assert intents == set(LIBRARY.topics)
    assert rule["steps"][1] == {"action": "action_answer_from_articles"}


@pytest.mark.parametrize("topic", TOPICS, ids=lambda topic: topic.intent)
def test_every_topic_has_training_examples(topic):
    examples = [text for intent, text in TRAINING_EXAMPLES if intent == topic.intent]
    assert len(examples) >= 30


@pytest.mark.parametrize("topic", TOPICS, ids=lambda topic: topic.intent)
def test_answers_are_short_and_never_diagnose_or_promise(topic):
    answer = topic.answer.lower()
    assert len(topic.answer) <= 600
    assert len(topic.label) <= 40
    assert not re.search(r"\byou (have|are suffering from)\b", answer), "reads as a diagnosis"
    assert not re.search(r"\b(guarantee|guaranteed|will cure|cures you|permanent fix)\b", answer)
    for match in re.finditer(r"\bcur(e|es|ed|ing)\b", answer):
        # "cure" only where the answer says it is not one
        window = answer[max(0, match.start() - 60) : match.end() + 10]
        assert re.search(r"\b(not|no|cannot|can't|isn't|never)\b", window), f"'cure' not negated: {window!r}"


def test_stem_cell_topics_are_flagged_for_the_investigational_notice():
    for topic in TOPICS:
        if topic.intent.startswith("ask_msc_"):
            assert topic.about_msc, topic.intent
