"""The trained model on the held-out NLU set (tests/nlu/heldout.yml, never in training data).

Fails if intent macro-F1 drops below 0.92, or if ANY out-of-scope message would get an article
answer, either straight from its intent or from the last-resort passage search after a fallback.
Prints the figures either way.
"""

from __future__ import annotations

import pytest

from clinical.articles import load_library
from clinical.passage_search import PassageSearch
from clinical.scope import out_of_scope_reason
from clinical.topic_choice import describes_symptoms
from harness.nlu_sets import HELDOUT_FILE, read_examples
from scripts.nlu_eval import NLU_FALLBACK, confusions, macro_f1, parse_all

pytestmark = pytest.mark.slow
MIN_MACRO_F1 = 0.92


@pytest.fixture(scope="module")
def parsed(trained_agent):
    return parse_all(trained_agent, read_examples([HELDOUT_FILE]))


def gets_an_article_answer(item, topics, search) -> bool:
    """Whether the assistant would answer this message with article content, at once or after the
    clarifying turn."""
    if item.predicted in topics:
        return True
    if item.predicted == NLU_FALLBACK:
        if (item.topic_choice or {}).get("likely") and describes_symptoms(item.findings):
            return True  # a described symptom gets a topic both signals rank high, named as a guess
        # after the clarifying question, the last resort is the passage search
        return out_of_scope_reason(item.text, item.entities) is None and search.search(item.text) is not None
    return False


def test_intent_macro_f1_on_heldout(parsed, capsys):
    expected = [item.expected for item in parsed]
    predicted = [item.predicted for item in parsed]
    score = macro_f1(expected, predicted)
    accuracy = sum(e == p for e, p in zip(expected, predicted)) / len(parsed)
    with capsys.disabled():
        print(
            f"\n[held-out NLU] {len(parsed)} messages, {len(set(expected))} intents: "
            f"macro-F1 {score:.3f}, accuracy {accuracy:.3f}, "
            f"fallbacks {predicted.count(NLU_FALLBACK)}"
        )
        print(f"[held-out NLU] most frequent confusions: {list(confusions(parsed).items())[:8]}")
    assert score >= MIN_MACRO_F1


def test_no_out_of_scope_message_gets_an_article_answer(parsed, capsys):
    topics = set(load_library().topics)
    search = PassageSearch(load_library())
    out_of_scope = [item for item in parsed if item.expected == "out_of_scope"]
    leaks = [(item.text, item.predicted) for item in out_of_scope if gets_an_article_answer(item, topics, search)]
    guarded = sum(item.guarded for item in out_of_scope)
    with capsys.disabled():
        print(
            f"\n[held-out NLU] out-of-scope: {len(out_of_scope)} messages, {len(leaks)} given an article "
            f"answer, {guarded} caught by the scope rules"
        )
    assert len(out_of_scope) >= 60
    assert leaks == []
