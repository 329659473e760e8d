"""FindingExtractor: records what each message says about the patient's knee, in the parse result.

A thin Rasa adapter around clinical/findings.py, which normalises the message's text (spelling,
accents) and reads it with the project's blank `en` pipeline. The record it
adds under `findings` ({present, unsure, absent, subject, mentions}: codes and character offsets, no
message text) is what components/red_flag_policy.py triages and what the self-check reuses instead
of asking again.

It runs before the intent classifiers are overruled by the scope rules, and never changes the
intent: the red-flag decision needs the whole conversation, so it is the policy's.
"""

from __future__ import annotations

from typing import Any, Dict, List, Text, Type

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.utils.spacy_utils import SpacyModel, SpacyNLP
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from clinical.findings import FindingReader, pattern_digest
from clinical.self_check import FINDINGS_KEY
from nlp.build_pipeline import load_pattern_spec, load_pipeline, pipeline_dir

SPACY_DOC_KEY = "text_spacy_doc"  # where SpacyNLP leaves the Doc of the message text


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False, model_from="SpacyNLP")
class FindingExtractor(GraphComponent):
    @classmethod
    def required_components(cls) -> List[Type]:
        return [SpacyNLP]

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # The digest is part of the config so that Rasa's training cache sees a changed pattern file.
        return {"patterns_digest": pattern_digest()}

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "FindingExtractor":
        return cls()

    def __init__(self) -> None:
        # Built when the model loads, not when the first patient writes: compiling the lexicons and
        # the spelling normaliser takes seconds. It reads the normalised text (so SpacyNLP's Doc of
        # the raw text is not reused) with the pipeline SpacyNLP loaded (components/spacy_nlp.py).
        self._extractor = FindingReader(load_pipeline(pipeline_dir(load_pattern_spec())))

    def process(self, messages: List[Message], model: SpacyModel) -> List[Message]:
        for message in messages:
            doc = message.get(SPACY_DOC_KEY)
            text = message.get(TEXT)
            if doc is None and not text:
                continue
            extraction = self._extractor.extract(doc if doc is not None else text)
            message.set(FINDINGS_KEY, extraction.as_dict(), add_to_output=True)
        return messages
