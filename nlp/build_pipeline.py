"""Build the project's blank English spaCy pipeline and save it where config.yml loads it.

No pretrained English pipeline can be installed on the clinic's machines (they reach no model hub),
so the assistant uses a blank ``en`` pipeline with:
  * a lookup lemmatizer, its tables from the ``spacy-lookups-data`` package (installed from PyPI);
  * an EntityRuler whose patterns live in ``nlp/patterns/entities.yml``.

Usage: python -m nlp.build_pipeline [--out build/spacy]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, cast

import spacy
import yaml
from spacy.pipeline import EntityRuler

ROOT = Path(__file__).resolve().parent.parent
PATTERNS_FILE = Path(__file__).resolve().parent / "patterns" / "entities.yml"
DEFAULT_OUT = ROOT / "build" / "spacy"
PIPELINE_NAME = "knee"


def load_pattern_spec(path: Path = PATTERNS_FILE) -> Dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def pipeline_dir(spec: Dict[str, Any], out: Path = DEFAULT_OUT) -> Path:
    """Where the pipeline of this pattern version is saved (config.yml names the same path)."""
    return out / f"en_{PIPELINE_NAME}-{spec['version']}"


def spacy_nlp_config(config_file: Path = ROOT / "config.yml") -> Dict[str, Any]:
    """The SpacyNLP entry of config.yml's pipeline (components/spacy_nlp.py): its `model` is the path,
    relative to the repository root, that pipeline_dir() gives."""
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    return next(c for c in config["pipeline"] if c["name"].rsplit(".", 1)[-1] == "SpacyNLP")


def load_pipeline(path: "str | Path") -> spacy.language.Language:
    """The saved pipeline at `path`, loaded once per process: Rasa's SpacyNLP
    (components/spacy_nlp.py) and the finding extractor read messages with the same copy."""
    return _load_resolved(str(Path(path).resolve()))


@functools.lru_cache(maxsize=None)
def _load_resolved(path: str) -> spacy.language.Language:
    return spacy.load(path)


def entity_patterns(labels: Dict[str, List[str]], nlp) -> List[Dict[str, Any]]:
    """Token patterns for each phrase: once on lowercase forms, once on lemmas."""
    patterns: List[Dict[str, Any]] = []
    for label, phrases in labels.items():
        for phrase in phrases:
            words = [token.lower_ for token in nlp.make_doc(phrase)]
            patterns.append({"label": label, "pattern": [{"LOWER": word} for word in words]})
            patterns.append({"label": label, "pattern": [{"LEMMA": word} for word in words]})
    return _unique(patterns)


def _unique(patterns: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    seen, unique = set(), []
    for pattern in patterns:
        key = json.dumps(pattern, sort_keys=True)
        if key not in seen:
            seen.add(key)
            unique.append(pattern)
    return unique


def build(spec: Dict[str, Any]):
    nlp = spacy.blank("en")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    # Lemmas must exist before the ruler runs, so it comes after the lemmatizer.
    ruler = cast(EntityRuler, nlp.add_pipe("entity_ruler", config={"validate": True}))
    nlp.initialize()  # loads the lookup tables from spacy-lookups-data
    ruler.add_patterns(entity_patterns(spec["labels"], nlp))
    nlp.meta["name"] = PIPELINE_NAME
    nlp.meta["version"] = spec["version"]
    nlp.meta["description"] = "Blank English pipeline with lookup lemmas and rule-based entities"
    nlp.meta["patterns_sha256"] = hashlib.sha256(PATTERNS_FILE.read_bytes()).hexdigest()
    return nlp


def main(argv: List[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    spec = load_pattern_spec()
    target = pipeline_dir(spec, args.out)
    target.parent.mkdir(parents=True, exist_ok=True)
    build(spec).to_disk(target)
    print(f"spaCy pipeline saved to {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    return target


if __name__ == "__main__":
    main()
