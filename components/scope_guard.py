"""ScopeGuard: turns a message the scope rules place outside the articles into out_of_scope.

It runs after the intent classifiers (and after the FallbackClassifier), reads the entities that our
spaCy rules found, and asks actions/scope.py. The decision is rule-based on purpose: a patient asking
"max dose of aleve?" must never get an article answer, however the classifier scored the words.
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

from actions.scope import out_of_scope_reason

OUT_OF_SCOPE = "out_of_scope"
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

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            reason = out_of_scope_reason(message.get(TEXT) or "", message.get(ENTITIES) or [])
            if reason is None:
                continue
            overruled = message.get(INTENT) or {}
            message.set(INTENT, {"name": OUT_OF_SCOPE, "confidence": 1.0}, add_to_output=True)
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r.get("name") != OUT_OF_SCOPE]
            message.set(INTENT_RANKING_KEY, [{"name": OUT_OF_SCOPE, "confidence": 1.0}] + ranking, add_to_output=True)
            message.set(
                REASON_KEY,
                {"reason": f"the message {reason}", "overruled_intent": overruled.get("name")},
                add_to_output=True,
            )
        return messages
