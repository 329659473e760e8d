"""Evaluate the trained model's intent classification on a held-out NLU file.

Shared by the held-out test (tests/test_nlu_heldout.py) and the threshold tuning script. The model is
run in-process (Rasa's Agent), exactly as the server parses a message, FallbackClassifier included.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from sklearn.metrics import f1_score

from clinical.scope import needs_clarification

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "knee-assistant.tar.gz"
NLU_FALLBACK = "nlu_fallback"


@dataclass(frozen=True)
class Parsed:
    text: str
    expected: str
    predicted: str  # after the FallbackClassifier: may be nlu_fallback
    ranking: Tuple[Tuple[str, float], ...]  # the classifier's own ranking, fallback left out
    entities: Tuple[dict, ...]
    guarded: bool = False  # the ScopeGuard's rules set out_of_scope, whatever the classifier said
    topic_choice: Optional[dict] = None  # the TopicResolver's record (components/topic_resolver.py)
    findings: Optional[dict] = None  # the finding extractor's record

    def decided(self, threshold: float, ambiguity: float, topics: frozenset = frozenset()) -> str:
        """The intent the pipeline would give with other FallbackClassifier thresholds."""
        if self.guarded:
            return "out_of_scope"
        if not self.ranking:
            return NLU_FALLBACK
        best, top = self.ranking[0]
        second = self.ranking[1][1] if len(self.ranking) > 1 else 0.0
        if top < threshold or top - second < ambiguity:
            return NLU_FALLBACK
        if needs_clarification(best in topics, top, self.entities):
            return NLU_FALLBACK
        return best


def load_agent(model: Path = MODEL):
    from rasa.core.agent import Agent

    if not model.exists():
        raise FileNotFoundError(f"{model} does not exist: run `make train` first")
    return Agent.load(str(model))


def parse_all(agent, examples: Sequence[Tuple[str, str]]) -> List[Parsed]:
    async def run() -> List[Parsed]:
        parsed = []
        for expected, text in examples:
            result = await agent.parse_message(text)
            ranking = tuple(
                (item["name"], float(item["confidence"]))
                for item in result.get("intent_ranking", [])
                if item["name"] != NLU_FALLBACK
            )
            parsed.append(
                Parsed(
                    text=text,
                    expected=expected,
                    predicted=result["intent"]["name"],
                    ranking=ranking,
                    entities=tuple(result.get("entities", [])),
                    guarded=result["intent"]["name"] == "out_of_scope" and bool(result.get("scope_guard")),
                    topic_choice=result.get("topic_choice"),
                    findings=result.get("findings"),
                )
            )
        return parsed

    return asyncio.run(run())


def macro_f1(expected: Sequence[str], predicted: Sequence[str]) -> float:
    """Macro-F1 over the intents of the evaluation set (a fallback counts as a miss)."""
    labels = sorted(set(expected))
    return float(f1_score(expected, predicted, labels=labels, average="macro", zero_division=0))


def confusions(parsed: Sequence[Parsed], predicted: Optional[Sequence[str]] = None) -> Dict[str, int]:
    predicted = predicted or [p.predicted for p in parsed]
    counts: Dict[str, int] = {}
    for item, guess in zip(parsed, predicted):
        if guess != item.expected:
            key = f"{item.expected} -> {guess}"
            counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))
