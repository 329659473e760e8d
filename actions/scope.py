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
