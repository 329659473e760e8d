"""ScopeGuard: applies the scope rules of clinical/scope.py to the classifier's result.

It runs after the intent classifiers (and after the FallbackClassifier) and reads the entities our
spaCy rules found:
  * a message the rules place outside the articles becomes out_of_scope ("max dose of aleve?" never
    gets an article answer, however the classifier scored its words);
  * an article topic with less than UNANCHORED_MIN_CONFIDENCE, for a message that names none of the
    articles' subjects or terms (clinical/scope.py ANCHORS), becomes nlu_fallback, so the patient is
    asked to clarify.
The decisions are rule-based on purpose, and each one is recorded in the parse result.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text, Type

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from clinical.articles import load_library
from clinical.scope import needs_clarification, out_of_scope_reason

OUT_OF_SCOPE = "out_of_scope"
NLU_FALLBACK = "nlu_fallback"
# Added to the parse result, so a reviewer can see why the classifier was overruled.
REASON_KEY = "scope_guard"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class ScopeGuard(GraphComponent, IntentClassifier):
    @classmethod
    def required_components(cls) -> List[Type]:
        return [IntentClassifier]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "ScopeGuard":
        return cls()

    def __init__(self) -> None:
        self._topics = set(load_library().topics)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            entities = message.get(ENTITIES) or []
            intent = message.get(INTENT) or {}
            reason = out_of_scope_reason(message.get(TEXT) or "", entities)
            if reason is not None:
                self._overrule(message, OUT_OF_SCOPE, 1.0, f"the message {reason}")
            elif needs_clarification(intent.get("name") in self._topics, intent.get("confidence") or 0.0, entities):
                # keeps the classifier's own confidence, so the reason can be read from the parse
                self._overrule(
                    message,
                    NLU_FALLBACK,
                    intent.get("confidence") or 0.0,
                    "no article subject named, and the classifier is not sure enough",
                )
        return messages

    @staticmethod
    def _overrule(message: Message, intent: str, confidence: float, reason: str) -> None:
        overruled = message.get(INTENT) or {}
        decided = {"name": intent, "confidence": confidence}
        ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != intent]
        message.set(INTENT, decided, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [decided] + ranking, add_to_output=True)
        message.set(REASON_KEY, {"reason": reason, "overruled_intent": overruled.get("name")}, add_to_output=True)
