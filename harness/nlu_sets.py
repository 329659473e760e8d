"""Reading Rasa NLU YAML files into (intent, text) pairs, shared by the NLU tests and scripts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, List, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
TRAINING_FILES = sorted((ROOT / "data" / "nlu").glob("*.yml"))
HELDOUT_FILE = ROOT / "tests" / "nlu" / "heldout.yml"
DEV_FILE = ROOT / "tests" / "nlu" / "dev.yml"


def read_examples(files: Iterable[Path]) -> List[Tuple[str, str]]:
    examples = []
    for path in files:
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            if "intent" not in block:
                continue
            for line in block["examples"].splitlines():
                line = line.strip()
                if line.startswith("- "):
                    examples.append((block["intent"], line[2:].strip()))
    return examples


def comparable(text: str) -> str:
    """Case, punctuation, hyphens and spacing folded: "Thanks!" and "thanks", "x-ray" and "x ray",
    "stem-cell" and "stem cell" count as the same message. A message of symbols only is kept as it is."""
    folded = " ".join(re.sub(r"[\W_]+", " ", text.lower()).split())
    return folded or text.strip()


# Two messages at least this similar (rapidfuzz's normalised Indel similarity, 0-100, of their
# comparable() forms) are near-duplicates: "will i be pain free forever" and "... for life" (87) are
# not, "once cartilage is gone is it gone for good" and "... forever" (89) are.
NEAR_DUPLICATE_SIMILARITY = 88


def near_duplicates(
    evaluation: Iterable[Tuple[str, str]], training: Iterable[Tuple[str, str]]
) -> List[Tuple[str, str, str]]:
    """(intent, evaluation message, its near twin in training) for every evaluation message that nearly
    repeats a training example of the same intent: a classifier that learned the twin gets it right
    without generalising. (A near twin with another intent - "end the self check" for stop, "do the
    self check" for start - is a hard contrast, not a leak, and is kept.)"""
    from rapidfuzz import fuzz, process

    by_intent: dict = {}
    for intent, text in training:
        by_intent.setdefault(intent, []).append(comparable(text))
    found = []
    for intent, text in evaluation:
        match = process.extractOne(
            comparable(text), by_intent.get(intent, []), scorer=fuzz.ratio, score_cutoff=NEAR_DUPLICATE_SIMILARITY
        )
        if match is not None:
            found.append((intent, text, match[0]))
    return found
