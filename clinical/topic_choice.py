"""Which article topic a patient asked about: the intent classifier and a retrieval search, together.

The intent classifier (DIET) learned from training messages; on wording nobody here wrote it is often
unsure, and then the patient used to be asked "did you mean ...?" about a clear question. A second,
independent signal reads the message differently: a TF-IDF search (words and character n-grams,
forgiving of typos) over what the articles say (every quoted passage, each topic's label and answer)
and over the training messages, each filed under its intent. It ranks intents by their closest text.

    classifier and retrieval agree on a topic      -> answer it
    they do not, but there are likely topics       -> offer the two or three likeliest, as buttons
    a question in the message asks something else  -> answer that topic too (at most one more)

The scope rules (clinical/scope.py) come first and are never overruled here: a message they place
outside the articles gets the honest scope answer, whatever both signals say. A described symptom
(clinical/findings.py) gets the self-check offered beside the answer (`describes_symptoms`).

Thresholds were chosen with `python -m scripts.tune_topic_choice` on development data only (the
dev set and spent blind answer rounds, never tests/nlu/heldout.yml or an unspent round). On the dev set
and round 1 (333 questions, 105 out-of-scope messages) the values below answer 240 questions right
and 34 wrong, offer buttons for 46 (the right topic among them for 29), answer both parts of 10 of 24
two-part questions, and give no out-of-scope message an article answer. The table is flat around
them: agreement from 0.1 to 0.3 confidence changes 3 answers; 0.35 similarity turns 6 right answers
into buttons; a second question at 0.35 answers one more pair and one more wrong topic.
Nothing here imports Rasa.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel

from clinical.articles import Library, normalise

OUT_OF_SCOPE = "out_of_scope"
NLU_FALLBACK = "nlu_fallback"
Ranking = Sequence[Tuple[str, float]]

# Agreement: the classifier's best topic must have at least this confidence, and retrieval's best
# text this cosine similarity (0..1), for an unsure classifier's topic to be answered.
AGREE_MIN_CONFIDENCE = 0.2
AGREE_MIN_SIMILARITY = 0.25
# Buttons: a candidate topic needs this much support from one of the two signals.
CANDIDATE_MIN_CONFIDENCE = 0.1
CANDIDATE_MIN_SIMILARITY = 0.25
MAX_CANDIDATES = 3
# A second question in the message, answered too when retrieval alone is this sure of its topic.
SECOND_QUESTION_MIN_SIMILARITY = 0.45

# Findings that are not symptoms: which side, when it began, age, history, medicines.
NOT_SYMPTOMS = {"side_left", "side_right", "side_both", "onset_sudden", "onset_gradual", "age_55_plus",
                "child", "blood_thinners", "bleeding_disorder", "cancer_history"}


class TopicRetrieval:
    """Intents ranked by the written text closest to a message (cosine of TF-IDF vectors, the mean of
    a word and a character n-gram model)."""

    def __init__(self, library: Library, examples: Iterable[Tuple[str, str]] = ()) -> None:
        self._intents: List[str] = []
        texts: List[str] = []
        for topic in library.topics.values():
            for text in (topic.label, topic.answer, *(quote for _, quote in topic.quotes)):
                self._intents.append(topic.intent)
                texts.append(normalise(text))
        for intent, text in examples:
            self._intents.append(intent)
            texts.append(normalise(text))
        self._words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)
        self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
        self._word_matrix = self._words.fit_transform(texts)
        self._char_matrix = self._chars.fit_transform(texts)

    def rank(self, query: str) -> List[Tuple[str, float]]:
        """Every intent with its best similarity, best first; empty for a message with no text."""
        query = normalise(query)
        if not query:
            return []
        scores = (linear_kernel(self._words.transform([query]), self._word_matrix)[0]
                  + linear_kernel(self._chars.transform([query]), self._char_matrix)[0]) / 2
        best: dict = {}
        for intent, score in zip(self._intents, scores):
            if score > best.get(intent, -1.0):
                best[intent] = float(score)
        return sorted(best.items(), key=lambda item: -item[1])


@dataclass(frozen=True)
class TopicChoice:
    """What to do with a message: `answer` topics (the first is the main one), `offer` topics as
    buttons, or `keep` the pipeline's intent."""

    action: str
    topics: Tuple[str, ...]
    reason: str

    def as_dict(self) -> dict:
        return {"action": self.action, "topics": list(self.topics), "reason": self.reason}


def _best(ranking: Ranking, topics: Set[str]) -> Tuple[Optional[str], float]:
    for name, score in ranking:
        if name in topics:
            return name, score
    return None, 0.0


def _retrieval_best(ranking: Ranking, topics: Set[str]) -> Tuple[Optional[str], float]:
    """Retrieval's best intent if it is a topic; an out-of-scope or conversation message closest
    counts as no topic (None) - it is evidence against answering."""
    if not ranking:
        return None, 0.0
    name, score = ranking[0]
    return (name, score) if name in topics else (None, score)


def choose(intent: str, classifier: Ranking, retrieval: Ranking, topics: Set[str],
           anchored: bool = True) -> TopicChoice:
    """The decision for a whole message. `intent` is the pipeline's (after the fallback threshold and
    the scope rules), `classifier` its ranking, `retrieval` TopicRetrieval.rank of the message, and
    `anchored` whether it names anything the articles are about (clinical/scope.py): agreement never
    answers a message that names nothing of theirs ("how do I reverse a list in python" shares
    "reverse" with the cure topic's words), it only offers the topics."""
    if intent in topics:
        return TopicChoice("answer", (intent,), "the classifier is sure")
    if intent != NLU_FALLBACK:
        return TopicChoice("keep", (), "not an article question, or placed out of scope by the rules")
    by_classifier, confidence = _best(classifier, topics)
    by_retrieval, similarity = _retrieval_best(retrieval, topics)
    if (anchored and by_classifier is not None and by_classifier == by_retrieval
            and confidence >= AGREE_MIN_CONFIDENCE and similarity >= AGREE_MIN_SIMILARITY):
        return TopicChoice("answer", (by_classifier,), "the classifier and the article search agree")
    candidates: List[str] = []
    classifier_topics = [(n, c) for n, c in classifier if n in topics and c >= CANDIDATE_MIN_CONFIDENCE]
    retrieval_topics = [(n, s) for n, s in retrieval if n in topics and s >= CANDIDATE_MIN_SIMILARITY]
    # alternate between the two signals, so each one's best guess is offered
    for pair in zip(classifier_topics + [("", 0.0)] * 3, retrieval_topics + [("", 0.0)] * 3):
        for name, _ in pair:
            if name and name not in candidates:
                candidates.append(name)
    candidates = candidates[:MAX_CANDIDATES]
    if candidates:
        return TopicChoice("offer", tuple(candidates), "the classifier and the article search disagree")
    return TopicChoice("keep", (), "no likely topic")


_PARTS = re.compile(
    r"[?!.;\n]+|,?\s+\b(?:and|also|plus|n|&)\s+(?=(?:what|how|is|are|does|do|can|could|will|would|why|where|who|when|which|should)\b)",
    re.IGNORECASE)


def question_parts(text: str) -> List[str]:
    """The message cut where one question ends and another may begin ("is it safe and what does it
    cost?" -> "is it safe", "what does it cost")."""
    return [part.strip() for part in _PARTS.split(text or "") if part and len(part.split()) >= 2]


def second_topic(main: str, parts: Sequence[Ranking], topics: Set[str]) -> Optional[str]:
    """A topic another part of the message asks about, if retrieval alone is sure of it.
    `parts` holds TopicRetrieval.rank of each question part (question_parts), in order."""
    if len(parts) < 2:
        return None
    for ranking in parts:
        name, similarity = _retrieval_best(ranking, topics)
        if name is not None and name != main and similarity >= SECOND_QUESTION_MIN_SIMILARITY:
            return name
    return None


def describes_symptoms(findings: Optional[Mapping[str, object]]) -> bool:
    """Whether the message tells of a symptom the patient (or the person they write for) has now."""
    present = set((findings or {}).get("present") or [])
    return bool(present - NOT_SYMPTOMS)
