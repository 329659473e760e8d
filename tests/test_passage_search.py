"""The last-resort passage search: finds the right topic for plain questions, nothing for others."""

import pytest

from clinical.articles import load_library
from clinical.passage_search import RELEVANCE_THRESHOLD, PassageSearch

SEARCH = PassageSearch(load_library())


@pytest.mark.parametrize(
    "query,intent",
    [
        ("how much do the injections cost", "ask_msc_cost"),
        ("where do the cells come from", "ask_msc_sources"),
        ("mesenchymal stem cells achieve better outcomes at an early stage", "ask_msc_effectiveness"),
        ("direct implantation or stent implantation", "ask_msc_implantation"),
        ("what are chondrocytes, the cells in cartilage", "ask_cartilage"),
        ("umbilical cord and amniotic membrane cells", "ask_msc_sources"),
    ],
)
def test_finds_the_topic_that_quotes_the_passage(query, intent):
    hit = SEARCH.search(query)
    assert hit is not None and hit.topic.intent == intent, hit


@pytest.mark.parametrize(
    "query",
    ["tell me a joke", "can I bring my dog", "what are your opening hours", "will it rain tomorrow", ""],
)
def test_answers_nothing_below_the_threshold(query):
    assert SEARCH.search(query) is None


def test_every_topic_is_reachable_by_its_own_label():
    for topic in load_library().topics.values():
        hit = SEARCH.search(topic.label)
        assert hit is not None and hit.topic.intent == topic.intent and hit.score >= RELEVANCE_THRESHOLD


def test_scores_are_cosine_similarities_between_0_and_1():
    scores = SEARCH.scores("stem cell therapy for knee osteoarthritis")
    assert all(0.0 <= score <= 1.0 + 1e-9 for score in scores)
    assert max(scores) > 0
