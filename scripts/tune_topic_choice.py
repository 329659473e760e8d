"""Tune the topic resolver's thresholds (clinical/topic_choice.py) on development data only.

Development data: the dev set (tests/nlu/dev.yml) and the spent blind answer rounds (tests/nlu/blind/
roundN/, listed in SPENT below once their first run is recorded and their failures read). Never the
held-out set or an unspent round. For each setting it prints, on the article questions, how many get
the right answer at once, a wrong one, or the buttons; and how many out-of-scope messages would get an
article answer (which must stay 0).

Usage: .venv/bin/python -m scripts.tune_topic_choice   (needs a trained model: make train)
Copying the chosen values into clinical/topic_choice.py is a reviewed edit.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Callable, List, Sequence, Tuple

import clinical.topic_choice as choice
from clinical.articles import load_library
from clinical.topic_choice import TopicRetrieval
from harness.answer_rounds import load_round, topics_for_fact
from harness.nlu_sets import DEV_FILE, TRAINING_FILES, read_examples
from scripts.nlu_eval import Parsed, load_agent, parse_all

# Spent answer rounds: their failures were read, so they are development data now.
SPENT = ("round1", "round2", "round3")
FALLBACK_THRESHOLD, AMBIGUITY = 0.6, 0.05  # config.yml's FallbackClassifier


@dataclass(frozen=True)
class Case:
    parsed: Parsed
    wanted: Tuple[frozenset, ...]  # per fact, the topics that answer it; () for out of scope


def development_cases() -> List[Case]:
    library = load_library()
    topics = set(library.topics)
    labelled: List[Tuple[str, Tuple[frozenset, ...], str]] = []
    for intent, text in read_examples([DEV_FILE]):
        if intent in topics:
            labelled.append((intent, (frozenset([intent]),), text))
        elif intent == "out_of_scope":
            labelled.append((intent, (), text))
    for name in SPENT:
        round_ = load_round(name)
        for question in round_.questions:
            wanted = tuple(frozenset(t.intent for t in topics_for_fact(f, library)) for f in question.facts)
            if all(wanted):
                labelled.append((next(iter(wanted[0])), wanted, question.text))
        labelled += [("out_of_scope", (), item.text) for item in round_.out_of_scope]
    parsed = parse_all(load_agent(), [(intent, text) for intent, _, text in labelled])
    return [Case(p, wanted) for p, (_, wanted, _) in zip(parsed, labelled)]


def evaluate(cases: Sequence[Case], rank: Callable[[str], List[Tuple[str, float]]]) -> dict:
    """The resolver's decisions (clinical/topic_choice.resolve, as the component makes them) scored."""
    topics = set(load_library().topics)
    counts = dict(questions=0, right=0, wrong=0, offered=0, offered_right=0, both=0, two_part=0, oos=0, leaks=0)
    for case in cases:
        intent = case.parsed.decided(FALLBACK_THRESHOLD, AMBIGUITY, frozenset(topics))
        decision = choice.resolve(intent, case.parsed.ranking, case.parsed.text, case.parsed.entities, rank, topics)
        answered = list(decision.topics) if decision is not None and decision.action == "answer" else []
        if not case.wanted:
            counts["oos"] += 1
            counts["leaks"] += bool(answered)
            continue
        counts["questions"] += 1
        hit = all(any(t in answered for t in fact) for fact in case.wanted)
        counts["right"] += hit
        counts["wrong"] += bool(answered) and not hit
        if decision is not None and decision.action == "offer":
            counts["offered"] += 1
            counts["offered_right"] += any(t in decision.topics for t in case.wanted[0])
        if len(case.wanted) > 1:
            counts["two_part"] += 1
            counts["both"] += hit
    return counts


def main() -> None:
    cases = development_cases()
    # the same index as `rasa train` builds; each text searched once for the whole table
    rank = functools.lru_cache(maxsize=None)(TopicRetrieval(load_library(), read_examples(TRAINING_FILES)).rank)
    print("agree_conf agree_sim second_sim | right wrong offered(right among them) both-parts | leaks")
    for agree_conf, agree_sim, second in itertools.product(
        (0.1, 0.2, 0.3, 0.4), (0.15, 0.25, 0.35), (0.35, 0.45, 0.55)
    ):
        choice.AGREE_MIN_CONFIDENCE, choice.AGREE_MIN_SIMILARITY = agree_conf, agree_sim
        choice.SECOND_QUESTION_MIN_SIMILARITY = second
        c = evaluate(cases, rank)
        print(
            f"{agree_conf:10.2f} {agree_sim:9.2f} {second:10.2f} | {c['right']:3d}/{c['questions']} {c['wrong']:3d} "
            f"{c['offered']:3d}({c['offered_right']}) {c['both']}/{c['two_part']} | {c['leaks']}/{c['oos']}"
        )


if __name__ == "__main__":
    main()
