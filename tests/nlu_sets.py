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
    """Case and punctuation folded, so "Thanks!" and "thanks" count as the same message."""
    folded = re.sub(r"[^\w ]", "", text.lower())
    folded = " ".join(folded.split())
    return folded or text.strip()
