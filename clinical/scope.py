"""What is inside the assistant's scope, decided from the rule-based entities of our spaCy pipeline.

The articles speak only of the knee, knee osteoarthritis and stem cell therapy, and of medicines only
in general. Whatever the intent classifier thinks, these messages get the honest scope answer, never
an article answer that happens to share their words:
  * a named medicine or a dose ("max dose of aleve", "can I take ibuprofen with it"): the assistant
    never advises on medicines;
  * a condition or a treatment the articles do not cover (chemotherapy, PRP, cortisone, a brace);
  * another part of the body and not the knee ("stem cells for my shoulder?");
  * a test or lifestyle advice ("does insurance cover x-rays?", "what should I eat?") in a message that
    names nothing the articles cover (an x-ray mentioned as context is fine);
  * a message with no words at all (only emoji or symbols): there is nothing to answer from.
And a message that names none of the articles' subjects (no knee, article condition, stem cell
therapy, cell source, or a word such as cartilage, swelling, cost or side effects) gets an article
answer only if the classifier is very sure: otherwise the patient is asked to clarify
(`needs_clarification`). "How do I reverse a list in python" must not
become an answer about stem cells because its words happened to score that way.
The vocabularies live in nlp/patterns/entities.yml. Nothing here imports Rasa.
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping, Optional

KNEE = "knee_part"
CELL_SOURCE = "cell_source"
OTHER_BODY_PART = "other_body_part"
TEST_OR_ADVICE = "test_or_advice"
# What the articles are about: a message naming one of these is anchored in their scope.
ARTICLE_SUBJECTS = {KNEE, CELL_SOURCE, "condition", "treatment"}
# ... and a message naming one of these, or a word of the articles' subjects, is anchored enough to be
# answered at the classifier's usual confidence.
ANCHORS = ARTICLE_SUBJECTS | {"article_term"}
ALWAYS_OUT_OF_SCOPE = {
    "medicine": "names a medicine or a dose",
    "other_condition": "is about a condition the articles do not cover",
    "other_treatment": "is about a treatment the articles do not cover",
}


_WORD = re.compile(r"\w", re.UNICODE)


def out_of_scope_reason(text: str, entities: Iterable[Mapping[str, object]]) -> Optional[str]:
    """Why a message is outside the assistant's scope, or None if the rules do not say so."""
    if not _WORD.search(text or ""):
        return "has no words"
    labels = {entity.get("entity") for entity in entities}
    for label, reason in ALWAYS_OUT_OF_SCOPE.items():
        if label in labels:
            return reason
    if OTHER_BODY_PART in labels and not labels & {KNEE, CELL_SOURCE}:
        return "is about another part of the body"
    if TEST_OR_ADVICE in labels and not labels & ARTICLE_SUBJECTS:
        return "is about a test or advice the articles do not cover"
    return None


# Tuned on the dev set (tests/nlu/dev.yml): 4 of its 50 correctly classified article questions with
# no subject word fall below 0.9 and get a clarifying question instead of the answer.
UNANCHORED_MIN_CONFIDENCE = 0.9


def anchored(entities: Iterable[Mapping[str, object]]) -> bool:
    """Whether the message names something the articles are about."""
    return bool({entity.get("entity") for entity in entities} & ANCHORS)


def needs_clarification(is_article_topic: bool, confidence: float, entities: Iterable[Mapping[str, object]]) -> bool:
    """An article answer to a message with no article subject needs a very sure classifier."""
    return is_article_topic and confidence < UNANCHORED_MIN_CONFIDENCE and not anchored(entities)
