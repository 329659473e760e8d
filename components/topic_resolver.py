"""TopicResolver: the intent classifier and the article search decide an article topic together.

A thin Rasa adapter around clinical/topic_choice.py. It runs after the ScopeGuard, so the scope rules
have had their say, and for each message it:
  * answers the topic the classifier and the retrieval search agree on, when the classifier alone
    was too unsure (the intent becomes that topic);
  * otherwise, for an unsure message, records the two or three likeliest topics, which
    action_ask_to_clarify offers as buttons (the intent stays nlu_fallback);
  * records a second topic that another question in the message asks about, which
    action_answer_from_articles answers too.
Its record is under `topic_choice` in the parse result (intent names and a reason, no text).

The retrieval index is built at training time from the content records and the NLU training messages
(Rasa's own training data, so what the classifier learned from is what retrieval searches) and
stored in the model archive.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text, Type

import joblib
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from clinical.articles import content_digest, load_library
from clinical.topic_choice import CHOICE_KEY, NLU_FALLBACK, TopicRetrieval, resolve

INDEX_FILE = "topic_retrieval.joblib"
# The index is stored pickled: a change to TopicRetrieval's attributes needs a new version here, so
# that `rasa train` builds a new index instead of restoring an old one from its cache.
INDEX_VERSION = 2


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class TopicResolver(GraphComponent, IntentClassifier):
    @classmethod
    def required_components(cls) -> List[Type]:
        # It reads the intent classifiers' result, so config.yml puts it after them. Declaring
        # IntentClassifier here, as ScopeGuard does, makes Rasa 3.6's graph validation refuse to
        # train a trainable component ("requires a IntentClassifier"), so nothing is declared.
        return []

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # The content records are part of the index, so a change to them must retrain it.
        return {"content_digest": content_digest(), "index_version": INDEX_VERSION}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TopicResolver":
        return cls(model_storage, resource)

    def __init__(
        self, model_storage: ModelStorage, resource: Resource, retrieval: Optional[TopicRetrieval] = None
    ) -> None:
        self._storage = model_storage
        self._resource = resource
        self._retrieval = retrieval
        self._topics = set(load_library().topics)

    def train(self, training_data: TrainingData) -> Resource:
        examples = [
            (message.get(INTENT), message.get(TEXT))
            for message in training_data.intent_examples
            if message.get(TEXT) and message.get(INTENT)
        ]
        self._retrieval = TopicRetrieval(load_library(), examples)
        with self._storage.write_to(self._resource) as directory:
            joblib.dump(self._retrieval, directory / INDEX_FILE)
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "TopicResolver":
        with model_storage.read_from(resource) as directory:
            retrieval = joblib.load(directory / INDEX_FILE)
        return cls(model_storage, resource, retrieval)

    def process(self, messages: List[Message]) -> List[Message]:
        if self._retrieval is None:
            return messages
        for message in messages:
            text = message.get(TEXT) or ""
            if not text or text.startswith("/"):
                continue  # a button's payload names its intent
            intent = (message.get(INTENT) or {}).get("name") or ""
            ranking = [
                (r.get("name"), float(r.get("confidence") or 0.0))
                for r in message.get(INTENT_RANKING_KEY) or []
                if r.get("name") != NLU_FALLBACK
            ]
            choice = resolve(intent, ranking, text, message.get(ENTITIES) or [], self._retrieval.rank, self._topics)
            if choice is None:
                continue
            if choice.action == "answer" and intent != choice.topics[0]:
                confidence = dict(ranking).get(choice.topics[0], 0.0)
                message.set(INTENT, {"name": choice.topics[0], "confidence": confidence}, add_to_output=True)
            message.set(CHOICE_KEY, choice.as_dict(), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
