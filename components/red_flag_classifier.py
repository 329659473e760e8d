"""RedFlagClassifier: the learned second opinion on red flags, in the parse result.

A thin Rasa adapter around clinical/red_flag_model.py. Trained with the assistant (`make train`) on
the red-flag corpus (corpus/red_flags/) plus the NLU training messages as ordinary ones; the
fitted model is stored in the Rasa model archive. For each message it adds under `red_flag_model`
the probabilities of an emergency, of an urgent problem and of a crisis, and the likeliest kind
(numbers and a kind name, no text). components/red_flag_policy.py decides with them.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

import joblib
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from clinical.findings import pattern_digest, shared_normaliser
from clinical.fingerprint import yaml_files_digest
from clinical.red_flag_model import CORPUS_DIR, SCREEN, RedFlagModel, load_corpus, training_set
from clinical.self_check import MODEL_KEY

MODEL_FILE = "red_flag_model.joblib"


def corpus_digest() -> str:
    """A fingerprint of the corpus, so that a changed corpus changes the training cache key."""
    return yaml_files_digest(CORPUS_DIR)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=True)
class RedFlagClassifier(GraphComponent):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # The lexicons too: the corpus is read through the spelling normaliser, which aims at their words.
        return {"corpus_digest": corpus_digest(), "lexicon_digest": pattern_digest(), "regularisation": 30.0}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "RedFlagClassifier":
        return cls(config, model_storage, resource)

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[RedFlagModel] = None,
    ) -> None:
        self._config = config
        self._storage = model_storage
        self._resource = resource
        self._model = model

    def train(self, training_data: TrainingData) -> Resource:
        ordinary = [message.get(TEXT) for message in training_data.intent_examples if message.get(TEXT)]
        texts, labels = training_set(load_corpus(), ordinary)
        normalise = shared_normaliser().normalise
        self._model = RedFlagModel(regularisation=self._config["regularisation"]).fit(
            [normalise(text) for text in texts], labels
        )
        with self._storage.write_to(self._resource) as directory:
            joblib.dump(self._model, directory / MODEL_FILE)
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "RedFlagClassifier":
        with model_storage.read_from(resource) as directory:
            model = joblib.load(directory / MODEL_FILE)
        # Ready when the model loads, not when the first patient writes (the normaliser takes seconds).
        model.opinion(shared_normaliser().normalise("warm up"))
        # The overload screen reads with it too (channels/guard.py).
        SCREEN.use(model, shared_normaliser().normalise)
        return cls(config, model_storage, resource, model)

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None:
            return messages
        normalise = shared_normaliser().normalise
        for message in messages:
            text = message.get(TEXT)
            if text:
                message.set(MODEL_KEY, self._model.opinion(normalise(text)).as_dict(), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
