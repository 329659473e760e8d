"""Tune the two "not understood" thresholds on the DEV set (tests/nlu/dev.yml), never the held-out set.

1. FallbackClassifier threshold (config.yml): below it the patient is asked to clarify.
2. Passage-search relevance threshold (clinical/passage_search.py): the last resort answers only above
   it. No out-of-scope dev message may get an answer; above that bound, the table shows the trade
   between answering and answering the wrong topic (the choice is explained beside the constant).

Usage: .venv/bin/python -m scripts.tune_thresholds   (needs a trained model: make train)
It prints a table; copying the chosen values into config.yml / passage_search.py is a reviewed edit.
"""

from __future__ import annotations

from clinical.articles import load_library
from clinical.passage_search import PassageSearch
from clinical.scope import out_of_scope_reason
from harness.nlu_sets import DEV_FILE, read_examples
from scripts.nlu_eval import load_agent, macro_f1, parse_all


def main() -> None:
    parsed = parse_all(load_agent(), read_examples([DEV_FILE]))
    topics = set(load_library().topics)
    expected = [p.expected for p in parsed]

    print("FallbackClassifier threshold (ambiguity 0.05) on dev:")
    print("  threshold  macro-F1  fallbacks  out-of-scope given an article intent")
    for threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
        decided = [p.decided(threshold, 0.05, frozenset(topics)) for p in parsed]
        leaks = sum(1 for p, d in zip(parsed, decided) if p.expected == "out_of_scope" and d in topics)
        print(f"  {threshold:9.2f}  {macro_f1(expected, decided):8.3f}  {decided.count('nlu_fallback'):9d}  {leaks}")

    search = PassageSearch(load_library())
    rows = []
    for p in parsed:
        if out_of_scope_reason(p.text, p.entities) is not None:
            continue  # the scope rules answer these before any search
        hit = search.best(p.text)
        rows.append((p.expected, hit.topic.intent if hit else None, hit.score if hit else 0.0))
    oos_scores = sorted(score for expected, _, score in rows if expected == "out_of_scope")
    lowest_safe = (oos_scores[-1] + 0.01) if oos_scores else 0.0
    print("\nPassage search on dev (messages the scope rules leave to it):")
    print("  threshold  answered-correct  answered-wrong-topic  out-of-scope-answered")
    for threshold in (0.2, 0.25, 0.3, 0.35, 0.4, round(lowest_safe, 2)):
        correct = sum(1 for e, got, s in rows if s >= threshold and e in topics and got == e)
        wrong = sum(1 for e, got, s in rows if s >= threshold and e in topics and got != e)
        oos = sum(1 for e, _, s in rows if s >= threshold and e == "out_of_scope")
        print(f"  {threshold:9.2f}  {correct:16d}  {wrong:20d}  {oos}")
    print(f"\nLowest passage threshold with no out-of-scope dev answer: {lowest_safe:.2f}")


if __name__ == "__main__":
    main()
