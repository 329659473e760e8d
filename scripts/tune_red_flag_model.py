"""Choose the red-flag classifier's thresholds on development data it never trained on.

The classifier (clinical/red_flag_model.py) trains on the corpus (corpus/red_flags/). Its thresholds
are chosen here on the spent vignette rounds (tests/vignettes/: rounds 1 and 2, and the blind rounds
whose failures have been read), which it never sees in training, together with the rules, as the
assistant uses them: either may escalate. For each threshold the table shows, over those rounds:
  * emergencies escalated by the rules or the classifier (single messages);
  * non-emergencies escalated (over-triage);
  * the turns of conversations before their red flag that are escalated (a message that only sets
    the scene, "I slipped on the ice an hour ago", should get the closed questions, not the alarm);
  * urgent messages given same-day advice or more.
It also reports the classifier alone with leave-one-writer-out cross-validation on the corpus, the
estimate of how it does on a writer it has never read.

    .venv/bin/python -m scripts.tune_red_flag_model [--max-over-triage 0.05] [--skip-cross-validation]

It prints the lowest emergency threshold whose over-triage stays within the limit; config.yml holds
the chosen values with the figures that justify them.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

import yaml

ROOT = Path(__file__).resolve().parent.parent
VIGNETTES = ROOT / "tests" / "vignettes"
GRID = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97)


@dataclass
class Item:
    text: str
    level: str  # emergency | urgent | not (a non-emergency, or a turn before the red flag)
    rule: str  # the rules' level for the message on its own
    p_emergency: float = 0.0
    p_urgent: float = 0.0
    p_crisis: float = 0.0


def development_items(extract) -> List[Item]:
    """Rounds 1 and 2 and the spent blind rounds: single messages, and conversation turns up to and
    including each conversation's red-flag turn."""
    import glob

    sets = [
        VIGNETTES / "single_messages.yml",
        VIGNETTES / "conversations.yml",
        VIGNETTES / "round2" / "single_messages.yml",
        VIGNETTES / "round2" / "conversations.yml",
        *sorted(Path(p) for p in glob.glob(str(VIGNETTES / "blind" / "round*" / "*.yml"))),
    ]
    items = []
    for path in sets:
        if "blind" in path.parts and path.parent.name in unspent_rounds():
            continue
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for vignette in spec.get("vignettes") or []:
            level = vignette["level"] if vignette["level"] in ("emergency", "urgent") else "not"
            items.append(Item(str(vignette["text"]), level, extract(str(vignette["text"]))))
        for conversation in spec.get("conversations") or []:
            at = conversation.get("escalate_at")
            for turn, text in enumerate(conversation["turns"], start=1):
                if at is not None and turn > at:
                    break
                level = (conversation.get("level") or "emergency") if turn == at else "scene"
                items.append(Item(str(text), level, extract(str(text))))
    return items


def unspent_rounds() -> Sequence[str]:
    """Blind rounds whose failures nobody has read: never tuned on (docs/safety-card.md lists them)."""
    listed = ROOT / "tests" / "vignettes" / "blind" / "unspent.txt"
    if not listed.exists():
        return ()
    return tuple(line.strip() for line in listed.read_text().splitlines() if line.strip() and not line.startswith("#"))


def rates(items: Sequence[Item], threshold: float, urgent_threshold: float, crisis_threshold: float = 2.0) -> dict:
    def escalated(item: Item) -> bool:
        return item.rule == "emergency" or item.p_emergency >= threshold or item.p_crisis >= crisis_threshold

    emergencies = [i for i in items if i.level == "emergency"]
    others = [i for i in items if i.level == "not"]
    scenes = [i for i in items if i.level == "scene"]
    urgents = [i for i in items if i.level == "urgent"]
    return {
        "recall": sum(map(escalated, emergencies)) / max(len(emergencies), 1),
        "over": sum(map(escalated, others)) / max(len(others), 1),
        "scene": sum(map(escalated, scenes)) / max(len(scenes), 1),
        "urgent": sum(escalated(i) or i.rule == "urgent" or i.p_urgent >= urgent_threshold for i in urgents)
        / max(len(urgents), 1),
        "n": (len(emergencies), len(others), len(urgents), len(scenes)),
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--max-over-triage",
        type=float,
        default=0.05,
        help="over-triage allowed on development data (the assistant's limit is 0.10)",
    )
    parser.add_argument("--urgent-threshold", type=float, default=0.6)
    parser.add_argument("--crisis-threshold", type=float, default=0.5)
    parser.add_argument("--skip-cross-validation", action="store_true")
    args = parser.parse_args(argv)

    import spacy
    from rasa.shared.nlu.training_data.loading import load_data

    from clinical.findings import FindingReader, shared_normaliser
    from clinical.red_flag_model import RedFlagModel, load_corpus, training_set
    from clinical.self_check import findings_of_record, with_implied_answers
    from clinical.triage import Findings, escalation

    spacy_dir = sorted((ROOT / "build" / "spacy").glob("en_knee-*"))[-1]
    extractor = FindingReader(spacy.load(spacy_dir))
    normalise = shared_normaliser().normalise

    def rule_level(text: str) -> str:
        result = escalation(Findings(), with_implied_answers(findings_of_record(extractor.extract(text).as_dict())))
        return result.level.code if result else "none"

    corpus = load_corpus()
    # The NLU training messages, as the Rasa component gets them (components/red_flag_classifier.py).
    ordinary = [m.get("text") for m in load_data(str(ROOT / "data" / "nlu")).intent_examples if m.get("text")]
    if not args.skip_cross_validation:
        print(
            "Leave one writer out: trained without a writer, read that writer's messages (rules or classifier;"
            " recall of emergencies / over-triage of the non-emergencies):"
        )
        rule_levels = {e.text: rule_level(e.text) for e in corpus}
        pooled: List[Item] = []
        for writer in sorted({e.writer for e in corpus}):
            texts, labels = training_set([e for e in corpus if e.writer != writer], ordinary)
            model = RedFlagModel().fit([normalise(t) for t in texts], labels)
            held = [e for e in corpus if e.writer == writer]
            items = [
                Item(e.text, e.level if e.level in ("emergency", "urgent") else "not", rule_levels[e.text])
                for e in held
            ]
            for item, opinion in zip(items, model.opinions([normalise(e.text) for e in held])):
                item.p_emergency, item.p_urgent, item.p_crisis = opinion.emergency, opinion.urgent, opinion.crisis
            pooled += items
            cells = []
            for threshold in GRID[2::2]:
                r = rates(items, threshold, args.urgent_threshold, args.crisis_threshold)
                cells.append(
                    f"{threshold}: {r['recall']:.3f}/{r['over']:.3f}"
                    if r["n"][0]
                    else f"{threshold}: -/{r['over']:.3f}"
                )
            print(f"  {writer}: " + ", ".join(cells))
        cells = [
            f"{t}: {rates(pooled, t, args.urgent_threshold, args.crisis_threshold)['recall']:.3f}/"
            f"{rates(pooled, t, args.urgent_threshold, args.crisis_threshold)['over']:.3f}"
            for t in GRID[2::2]
        ]
        print("  all writers: " + ", ".join(cells))

    texts, labels = training_set(corpus, ordinary)
    model = RedFlagModel().fit([normalise(t) for t in texts], labels)
    items = development_items(rule_level)
    for item, opinion in zip(items, model.opinions([normalise(i.text) for i in items])):
        item.p_emergency, item.p_urgent, item.p_crisis = opinion.emergency, opinion.urgent, opinion.crisis
    n_e, n_o, n_u, n_s = rates(items, 1.0, 1.0)["n"]
    print(
        f"\nDevelopment rounds ({n_e} emergencies, {n_o} non-emergency messages, {n_s} conversation turns "
        f"that only set the scene before a red flag, {n_u} urgent), rules or classifier:"
    )
    print("  threshold  recall  over-triage  scene turns escalated  urgent recall")
    chosen = None
    for threshold in GRID:
        r = rates(items, threshold, args.urgent_threshold, args.crisis_threshold)
        print(
            f"  {threshold:9.2f}  {r['recall']:.3f}   {r['over']:.3f}        {r['scene']:.3f}"
            f"                  {r['urgent']:.3f}"
        )
        if chosen is None and r["over"] <= args.max_over_triage:
            chosen = threshold
    rules_only = rates(items, 2.0, 2.0)
    print(
        f"  rules only {rules_only['recall']:.3f}   {rules_only['over']:.3f}        {rules_only['scene']:.3f}"
        f"                  {rules_only['urgent']:.3f}"
    )
    print(f"\nLowest emergency threshold with over-triage <= {args.max_over_triage:.2f}: {chosen}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
