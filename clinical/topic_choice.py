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
from dataclasses import dataclass, replace
from itertools import zip_longest
from typing import Callable, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, cast

from clinical.articles import Library, normalise
from clinical.passage_search import TfidfSimilarity, topic_passages
from clinical.scope import anchored, entities_within, out_of_scope_reason

NLU_FALLBACK = "nlu_fallback"
CHOICE_KEY = "topic_choice"  # where the decision is recorded in a message's parse result
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

# At most this many question parts of a message are searched (a long message of many short questions
# must not cost a search each).
MAX_PARTS = 4
AGREED = "the classifier and the article search agree"

# Findings that are not symptoms: which side, when it began, age, history, medicines, "painless".
NOT_SYMPTOMS = {
    "side_left",
    "side_right",
    "side_both",
    "onset_sudden",
    "onset_gradual",
    "age_55_plus",
    "child",
    "blood_thinners",
    "bleeding_disorder",
    "cancer_history",
    "painless",
}


class TopicRetrieval:
    """Intents ranked by the written text closest to a message (clinical/passage_search.py's
    TfidfSimilarity over the content records' passages and the training messages, no stop words:
    "how", "what" and "is" tell questions apart)."""

    def __init__(self, library: Library, examples: Iterable[Tuple[str, str]] = ()) -> None:
        pairs = [(normalise(text), topic.intent) for text, topic in topic_passages(library)]
        pairs += [(normalise(text), intent) for intent, text in examples]
        self._intents = [intent for _, intent in pairs]
        self._similarity = TfidfSimilarity([text for text, _ in pairs])

    def rank(self, query: str) -> List[Tuple[str, float]]:
        """Every intent with its best similarity, best first; empty for a message with no text."""
        query = normalise(query)
        if not query:
            return []
        best: dict = {}
        for intent, score in zip(self._intents, self._similarity.scores(query)):
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
    # for `offer`: a topic both signals rank among their best two, likely enough to show a patient who
    # described a symptom, named as a guess (actions/fallback.py); never answered otherwise
    likely: Optional[str] = None

    def as_dict(self) -> dict:
        return {"action": self.action, "topics": list(self.topics), "reason": self.reason, "likely": self.likely}


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


def choose(
    intent: str, classifier: Ranking, retrieval: Ranking, topics: Set[str], anchored: bool = True
) -> TopicChoice:
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
    if (
        anchored
        and by_classifier is not None
        and by_classifier == by_retrieval
        and confidence >= AGREE_MIN_CONFIDENCE
        and similarity >= AGREE_MIN_SIMILARITY
    ):
        return TopicChoice("answer", (by_classifier,), AGREED)
    candidates: List[str] = []
    classifier_topics = [(n, c) for n, c in classifier if n in topics and c >= CANDIDATE_MIN_CONFIDENCE]
    retrieval_topics = [(n, s) for n, s in retrieval if n in topics and s >= CANDIDATE_MIN_SIMILARITY]
    # alternate between the two signals, so each one's best guess is offered
    for pair in zip_longest(classifier_topics, retrieval_topics, fillvalue=("", 0.0)):
        for name, _ in pair:
            if name and name not in candidates:
                candidates.append(name)
    candidates = candidates[:MAX_CANDIDATES]
    if candidates:
        both = {n for n, _ in classifier_topics[:2]} & {n for n, _ in retrieval_topics[:2]}
        likely = next((name for name in candidates if name in both), None) if anchored else None
        return TopicChoice("offer", tuple(candidates), "the classifier and the article search disagree", likely)
    return TopicChoice("keep", (), "no likely topic")


_QUESTION_WORD = r"(?:what|how|is|are|does|do|can|could|will|would|why|where|who|when|which|should)"
# Where a question ends ("?"), or where "and"/"also"/"plus"/"n" starts another question.
_PART_END = re.compile(r"\?+|,?\s+(?:(?:and|also|plus|n|&)\s+)+(?=" + _QUESTION_WORD + r"\b)", re.IGNORECASE)
# A question word, or a request that asks one ("kindly tell me the symptoms, and also who gets it").
_STARTS_AS_QUESTION = re.compile(
    r"^\W*(?:(?:kindly|please|pls|so|and|also|but|ok|okay)\s+)*(?:"
    + _QUESTION_WORD
    + r"|tell me|explain|i (?:want|would like|'d like) to know|i wonder)\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?\n]*")


def question_parts(text: str) -> List[Tuple[int, int]]:
    """Where the questions of a message are, as (start, end) offsets: "is it safe and what does it
    cost?" -> "is it safe", "what does it cost". A part counts only as a question: it ends with "?" or
    starts with a question word. Statements ("My knee hurts.") are not parts: a second answer is for a
    second question, never for a described symptom."""
    parts: List[Tuple[int, int]] = []
    for sentence in _SENTENCE.finditer(text or ""):
        start = sentence.start()
        chunk = sentence.group()
        cut = 0
        for boundary in list(_PART_END.finditer(chunk)) + [None]:
            end = boundary.start() if boundary else len(chunk)
            piece = chunk[cut:end]
            is_question = (boundary is not None and boundary.group().startswith("?")) or bool(
                _STARTS_AS_QUESTION.match(piece)
            )
            if len(piece.split()) >= 2 and is_question:
                left = len(piece) - len(piece.lstrip())
                parts.append((start + cut + left, start + cut + len(piece.rstrip(" \t\n.!"))))
            cut = boundary.end() if boundary else len(chunk)
    return parts[:MAX_PARTS]


def answerable_question_parts(text: str, entities: Sequence[Mapping[str, object]]) -> List[str]:
    """The question parts of a message (question_parts) that the scope rules leave in scope and that
    name something the articles are about, each judged on its own entities; none for a message of
    one question. "how much does it cost? is it safe to eat raw chicken" keeps only the first."""
    spans = question_parts(text)
    if len(spans) < 2:
        return []
    found = []
    for start, end in spans:
        inside = entities_within(entities, start, end)
        if out_of_scope_reason(text[start:end], inside) is None and anchored(inside):
            found.append(text[start:end])
    return found


def second_topic(main: str, parts: Sequence[Ranking], topics: Set[str]) -> Optional[str]:
    """A topic another question of the message asks about, if retrieval alone is sure of it.
    `parts` holds TopicRetrieval.rank of each answerable_question_parts, in order."""
    if len(parts) < 2:
        return None
    for ranking in parts:
        name, similarity = _retrieval_best(ranking, topics)
        if name is not None and name != main and similarity >= SECOND_QUESTION_MIN_SIMILARITY:
            return name
    return None


def resolve(
    intent: str,
    classifier: Ranking,
    text: str,
    entities: Sequence[Mapping[str, object]],
    rank: Callable[[str], Ranking],
    topics: Set[str],
) -> Optional[TopicChoice]:
    """The whole decision for one message, as components/topic_resolver.py makes it: None when there
    is nothing to decide (small talk, a request, or placed out of scope by the rules); else `choose`,
    with retrieval asked only for an unsure message, and for an answer the second topic another
    question of the message asks about. `rank` is TopicRetrieval.rank (or a cache of it)."""
    if intent not in topics and intent != NLU_FALLBACK:
        return None
    choice = choose(intent, classifier, rank(text) if intent == NLU_FALLBACK else [], topics, anchored(entities))
    if choice.action == "answer":
        also = second_topic(
            choice.topics[0], [rank(part) for part in answerable_question_parts(text, entities)], topics
        )
        if also:
            return replace(choice, topics=choice.topics + (also,))
    return choice


def describes_symptoms(findings: Optional[Mapping[str, object]]) -> bool:
    """Whether the message tells of a symptom the patient (or the person they write for) has now."""
    present = set(cast(Iterable[str], (findings or {}).get("present") or []))
    return bool(present - NOT_SYMPTOMS)
