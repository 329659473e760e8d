"""The design question of the foundation issue, answered with held-out numbers: one content-driven
action over flat intents (what this project does) versus retrieval intents with a ResponseSelector.

Builds the retrieval variant in a temporary folder from the same training data (each article topic
becomes `faq/<topic>`, answered by a `utter_faq/<topic>` response, with a ResponseSelector after
DIET), trains its NLU, and compares both on tests/nlu/heldout.yml: training time, and the macro-F1
of the topic each variant picks (the scope rules applied, before any fallback threshold).

Usage: .venv/bin/python -m scripts.compare_response_selector   (after `make install`)
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, List

import yaml

from clinical.articles import load_library
from harness.nlu_sets import HELDOUT_FILE, TRAINING_FILES, read_examples
from harness.servers import RASA
from nlp.build_pipeline import spacy_nlp_config
from scripts.nlu_eval import ROOT, load_agent, macro_f1


def build_variant(workdir: Path, topics) -> Path:
    blocks: Dict[str, List[str]] = {}
    for intent, text in read_examples(TRAINING_FILES):
        blocks.setdefault(f"faq/{intent}" if intent in topics else intent, []).append(text)
    data = {
        "version": "3.1",
        "nlu": [{"intent": i, "examples": "".join(f"- {t}\n" for t in ts)} for i, ts in blocks.items()],
    }
    (workdir / "nlu.yml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))

    from rasa.shared.core.domain import Domain

    domain = Domain.load(str(ROOT / "domain")).as_dict()
    domain["intents"] = [i for i in domain["intents"] if i not in topics] + ["faq"]
    for topic in topics.values():
        domain["responses"][f"utter_faq/{topic.intent}"] = [{"text": topic.answer}]
    (workdir / "domain.yml").write_text(yaml.safe_dump(domain, sort_keys=False, allow_unicode=True))

    config = yaml.safe_load((ROOT / "config.yml").read_text())
    pipeline = config["pipeline"]
    for component in pipeline:
        if component["name"] == spacy_nlp_config()["name"]:
            component["model"] = str(ROOT / component["model"])
    diet = next(i for i, c in enumerate(pipeline) if c["name"] == "DIETClassifier")
    pipeline.insert(
        diet + 1,
        {
            "name": "ResponseSelector",
            "epochs": 50,
            "retrieval_intent": "faq",
            "number_of_transformer_layers": 1,
            "transformer_size": 128,
            "random_seed": 42,
        },
    )
    (workdir / "config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    return workdir


def main() -> None:
    topics = load_library().topics
    heldout = read_examples([HELDOUT_FILE])
    expected = [intent for intent, _ in heldout]
    workdir = build_variant(Path(tempfile.mkdtemp(prefix="rs-variant-")), topics)

    def train_nlu(cwd: Path, config: str, nlu: str, domain: str, name: str) -> float:
        env = dict(
            os.environ,
            RASA_TELEMETRY_ENABLED="false",
            PYTHONPATH=str(ROOT),
            RASA_CACHE_DIRECTORY=str(workdir / f"cache-{name}"),
        )
        started = time.perf_counter()
        subprocess.run(
            [
                RASA,
                "train",
                "nlu",
                "-c",
                config,
                "-u",
                nlu,
                "-d",
                domain,
                "--out",
                str(workdir / "models"),
                "--fixed-model-name",
                name,
            ],
            cwd=cwd,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - started

    ours_train_s = train_nlu(ROOT, "config.yml", "data/nlu", "domain", "ours")
    variant_train_s = train_nlu(workdir, "config.yml", "nlu.yml", "domain.yml", "variant")

    async def picks(agent, retrieval: bool):
        chosen = []
        for _, text in heldout:
            result = await agent.parse_message(text)
            ranking = [r for r in result.get("intent_ranking", []) if r["name"] != "nlu_fallback"]
            # the classifier's pick; where the scope rules overruled it, ScopeGuard put out_of_scope first
            top = ranking[0]["name"] if ranking else "nlu_fallback"
            if retrieval and top == "faq":
                key = result["response_selector"]["faq"]["response"]["intent_response_key"]
                top = key.split("/", 1)[1]
            chosen.append(top)
        return chosen

    ours = asyncio.run(picks(load_agent(workdir / "models" / "ours.tar.gz"), retrieval=False))
    variant = asyncio.run(picks(load_agent(workdir / "models" / "variant.tar.gz"), retrieval=True))
    print(f"held-out messages: {len(heldout)}")
    print(
        f"flat intents + one action : macro-F1 {macro_f1(expected, ours):.3f}, "
        f"NLU training {ours_train_s:.0f} s (cold cache)"
    )
    print(
        f"faq/ retrieval + selector : macro-F1 {macro_f1(expected, variant):.3f}, "
        f"NLU training {variant_train_s:.0f} s (cold cache)"
    )


if __name__ == "__main__":
    main()
