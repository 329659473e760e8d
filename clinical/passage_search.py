"""Last-resort search over the article passages that our content records quote.

When the intent classifier cannot place a message, even after asking the patient to rephrase, this
finds the article passage closest to the message and answers with the topic that quotes it - only if
the match is strong enough. The passages are the verbatim quotes of clinical/content/topics.yml (which
a test proves cover every sentence of both articles), plus each topic's label and its answer in our
own words (a paraphrase of the same passages, closer to how patients put things: "price", "risky").

Scoring: the mean of two TF-IDF cosine similarities, one over words (precise) and one over character
n-grams within words (forgiving of typos such as "cartlage"). Cosine scores lie in 0..1, so one
threshold means the same for a two-word and a fifty-word message. Nothing here imports Rasa.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, List, Optional, Sequence, Tuple

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel

from clinical.articles import Library, Topic, normalise

# Tuned with `python -m scripts.tune_thresholds` on the dev set tests/nlu/dev.yml (never on the
# final held-out set). From 0.22 up no out-of-scope dev message gets an answer; 0.40 is chosen for
# precision: 37 of the 47 in-scope dev messages it answers get the right topic (at 0.30: 56 of 82).
RELEVANCE_THRESHOLD = 0.40


@dataclass(frozen=True)
class Hit:
    topic: Topic
    passage: str
    score: float


def topic_passages(library: Library) -> Iterator[Tuple[str, Topic]]:
    """Every text the content records give a topic: its label, its answer and each verbatim quote."""
    for topic in library.topics.values():
        yield topic.label, topic
        yield topic.answer, topic
        yield from ((normalise(quote), topic) for _, quote in topic.quotes)


class TfidfSimilarity:
    """Cosine similarity of a query to each of some texts: the mean of a word model (precise) and a
    character n-gram model within words (forgiving of typos). Shared by the passage search and the
    topic resolver's retrieval (clinical/topic_choice.py)."""

    def __init__(self, texts: Sequence[str], stop_words: Optional[str] = None) -> None:
        self._words = TfidfVectorizer(stop_words=stop_words, ngram_range=(1, 2), sublinear_tf=True, lowercase=True)
        self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
        self._word_matrix = self._words.fit_transform(texts)
        self._char_matrix = self._chars.fit_transform(texts)

    def scores(self, query: str) -> List[float]:
        """One score in 0..1 per text, in the texts' order."""
        words = linear_kernel(self._words.transform([query]), self._word_matrix)[0]
        chars = linear_kernel(self._chars.transform([query]), self._char_matrix)[0]
        return list((words + chars) / 2)


class PassageSearch:
    def __init__(self, library: Library) -> None:
        self._passages: List[Tuple[str, Topic]] = list(topic_passages(library))
        self._similarity = TfidfSimilarity([text for text, _ in self._passages], stop_words="english")

    def scores(self, query: str) -> List[float]:
        return self._similarity.scores(normalise(query))

    def best(self, query: str) -> Optional[Hit]:
        """The best-scoring passage, whatever its score (None for an empty query)."""
        if not normalise(query):
            return None
        scores = self.scores(query)
        index = max(range(len(scores)), key=scores.__getitem__)
        passage, topic = self._passages[index]
        return Hit(topic=topic, passage=passage, score=float(scores[index]))

    def search(self, query: str, threshold: float = RELEVANCE_THRESHOLD) -> Optional[Hit]:
        """The best passage if it is relevant enough to answer with, else None."""
        hit = self.best(query)
        return hit if hit is not None and hit.score >= threshold else None
