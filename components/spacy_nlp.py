"""Rasa's SpacyNLP, loading the project's spaCy pipeline once per process.

The finding extractor (components/finding_extractor.py) reads messages with the same pipeline as
Rasa's tokenizer and entity extractor. Each loading its own copy held two in the Rasa server, about
14 MiB; both now take it from nlp.build_pipeline.load_pipeline. Nothing else differs: the pipeline
has no parser for Rasa's `disable=["parser"]` to turn off, and spaCy and the pipeline are this
machine's own build (`make install`), so Rasa's version check has nothing to find.

The class keeps the name SpacyNLP on purpose. Rasa's recipe finds the provider of the spaCy model
for SpacyTokenizer and SpacyEntityExtractor (`model_from="SpacyNLP"`) by class name, and registers
components by class name, so registering this class replaces Rasa's under that name in this process.
"""

from __future__ import annotations

from typing import Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.utils import spacy_utils
from rasa.nlu.utils.spacy_utils import SpacyModel

from nlp.build_pipeline import load_pipeline


# Registered as Rasa registers its own SpacyNLP: it provides the model and puts a Doc on each message.
@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MODEL_LOADER, DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER],
    is_trainable=False,
    model_from="SpacyNLP",
)
class SpacyNLP(spacy_utils.SpacyNLP):
    @staticmethod
    def load_model(spacy_model_name: Text) -> SpacyModel:
        if not spacy_model_name:
            return spacy_utils.SpacyNLP.load_model(spacy_model_name)  # Rasa's own message for a missing name
        return SpacyModel(model=load_pipeline(spacy_model_name), model_name=spacy_model_name)
