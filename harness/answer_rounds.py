"""Blind rounds of article questions (tests/nlu/blind/roundN/): load, run, score, report.

A round is written by several independent writers who saw only the two articles in ../shared/articles
(never the assistant's training data, content records, code or earlier rounds), each with a persona
brief. Each writer's file holds `questions` the articles answer, each with the article sentence(s)
that answer it copied verbatim (`answer_in_article`, one per fact asked), and `out_of_scope` messages
the articles do not answer.

Every message is the first message of a new conversation, sent over the REST channel as a patient's
would be. Scoring reads the reply, not the classifier:
  * a fact is answered when the reply contains the answer of a topic whose quotes overlap the
    writer's sentence (clinical/content/topics.yml quotes cover every sentence of both articles);
    a question is answered when every fact it asked is;
  * the first reply is a clarifying question when it asks "did you mean" or offers topics to choose;
  * an out-of-scope message leaks when the reply contains any topic's answer.

    .venv/bin/python -m harness.answer_rounds round1            # run one round, print its card
    .venv/bin/python -m harness.answer_rounds round1 --record   # keep it as the round's first run

The first run of a fresh round is its honest figure: docs/answer-card.md records it before anything is
tuned on the round's failures. tests/test_answer_rounds.py runs every round in `make test`.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from clinical.articles import Library, Topic, load_library
from harness.blind_rounds import (
    FIRST_RUN,
    SAME_DAY_OR_MORE,
    ReplyMarkers,
    Say,
    markers_from_domain,
    read_first_run,
    read_known,
    round_names,
    write_first_run,
    writer_files,
)

ANSWER_ROUNDS_DIR = Path(__file__).resolve().parent.parent / "tests" / "nlu" / "blind"
# How the first reply to a message was handled, from the most to the least helpful.
REPLY_KINDS = ("article", "clarify", "out_of_scope", "ask", "escalated", "other", "none")


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    facts: Tuple[str, ...]  # the article sentences that answer it, verbatim, in the order asked
    writer: str = ""


@dataclass(frozen=True)
class OutOfScope:
    id: str
    text: str
    why: str
    writer: str = ""


@dataclass
class AnswerRound:
    name: str
    questions: List[Question] = field(default_factory=list)
    out_of_scope: List[OutOfScope] = field(default_factory=list)
    writers: Dict[str, str] = field(default_factory=dict)


def rounds() -> List[str]:
    return round_names(ANSWER_ROUNDS_DIR)


def load_round(name: str) -> AnswerRound:
    loaded = AnswerRound(name)
    for spec in writer_files(ANSWER_ROUNDS_DIR, name):
        writer = spec["writer"]
        loaded.writers[writer] = spec.get("persona", "")
        for item in spec.get("questions") or []:
            loaded.questions.append(
                Question(item["id"], str(item["text"]), tuple(str(f) for f in item["answer_in_article"]), writer)
            )
        for item in spec.get("out_of_scope") or []:
            loaded.out_of_scope.append(OutOfScope(item["id"], str(item["text"]), str(item.get("why", "")), writer))
    return loaded


def _plain(text: str) -> str:
    """Compared without case, curly quotes, dashes or runs of space: writers copy by hand."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = re.sub(r"[\u2013\u2014]", "-", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def topics_for_fact(fact: str, library: Library) -> List[Topic]:
    """The topics whose quotes overlap the writer's sentence (either contains the other), in the
    content records' order."""
    wanted = _plain(fact).rstrip(".")
    found = []
    for topic in library.topics.values():
        for _, quote in topic.quotes:
            quote = _plain(quote).rstrip(".")
            if quote and (quote in wanted or wanted in quote):
                found.append(topic)
                break
    return found


@dataclass(frozen=True)
class Reply:
    kind: str
    topics: Tuple[str, ...]  # intents of every topic answer the reply contains


def read_reply(replies: Sequence[dict], library: Library, markers: ReplyMarkers) -> Reply:
    """The red-flag rounds' reading of the first message (an escalation, the red-flag questions, a
    clarifying question...), with any topic answer anywhere in the reply counting as an answer."""
    whole = "\n".join(r.get("text") or "" for r in replies)
    answered = tuple(t.intent for t in library.topics.values() if t.answer in whole)
    kind = markers.kind(replies)
    if kind in SAME_DAY_OR_MORE:
        kind = "escalated"
    elif answered:
        kind = "article"
    elif kind not in REPLY_KINDS:
        kind = "other"
    return Reply(kind, answered)


@dataclass
class Outcome:
    replies: Dict[str, Reply] = field(default_factory=dict)  # message id -> how it was handled


def run(round_: AnswerRound, say: Say, library: Optional[Library] = None) -> Outcome:
    library = library or load_library()
    markers = markers_from_domain()
    outcome = Outcome()
    items: List[Union[Question, OutOfScope]] = [*round_.questions, *round_.out_of_scope]
    for item in items:
        outcome.replies[item.id] = read_reply(say(f"answers-{uuid.uuid4().hex[:10]}", item.text), library, markers)
    return outcome


def _ratio(hits: int, total: int) -> str:
    return f"{hits}/{total} = {hits / total:.2f}" if total else "0/0"


@dataclass
class AnswerCard:
    name: str
    answered: Tuple[int, int]
    clarified: Tuple[int, int]  # first reply a clarifying question
    wrong_topic: Tuple[int, int]  # an article answer, but not with the fact asked for
    out_of_scope_reply: Tuple[int, int]
    unscorable: List[str]  # questions whose sentence no topic quotes (reported, not counted)
    two_facts: Tuple[int, int]  # questions asking two things: both answered
    leaks: Tuple[int, int]  # out-of-scope messages given an article answer
    per_topic: Dict[str, Tuple[int, int]]
    by_writer: Dict[str, Tuple[int, int]]
    first_replies: Dict[str, int]
    missed: List[Tuple[str, str, List[str]]]  # id, reply kind, topics answered
    leaked: List[Tuple[str, List[str]]]

    def as_dict(self) -> dict:
        return self.__dict__.copy()

    def lines(self) -> List[str]:
        out = [
            f"| measure | {self.name} |",
            "|---|---|",
            f"| questions answered with the fact asked for (first reply) | {_ratio(*self.answered)} |",
            f"| first reply a clarifying question | {_ratio(*self.clarified)} |",
            f"| an article answer without the fact asked for | {_ratio(*self.wrong_topic)} |",
            f"| the scope answer to an answerable question | {_ratio(*self.out_of_scope_reply)} |",
            f"| two-part questions with both parts answered | {_ratio(*self.two_facts)} |",
            f"| out-of-scope messages given an article answer | {_ratio(*self.leaks)} |",
            "",
            "| topic (of the first fact asked) | answered |",
            "|---|---|",
        ]
        out += [f"| {topic} | {_ratio(*counts)} |" for topic, counts in sorted(self.per_topic.items())]
        out += ["", "| writer | answered |", "|---|---|"]
        out += [f"| {writer} | {_ratio(*counts)} |" for writer, counts in sorted(self.by_writer.items())]
        out += ["", "First replies: " + ", ".join(f"{k} {n}" for k, n in sorted(self.first_replies.items())) + "."]
        if self.unscorable:
            out.append(f"Not scored (the sentence cited is in no content record): {', '.join(self.unscorable)}.")
        return out


def score(round_: AnswerRound, outcome: Outcome, library: Optional[Library] = None) -> AnswerCard:
    library = library or load_library()
    answered = clarified = wrong = scoped = two_hits = two_total = 0
    per_topic: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    by_writer: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    missed: List[Tuple[str, str, List[str]]] = []
    unscorable: List[str] = []
    scored = 0
    for question in round_.questions:
        wanted = [topics_for_fact(fact, library) for fact in question.facts]
        if not all(wanted):
            unscorable.append(question.id)
            continue
        scored += 1
        reply = outcome.replies[question.id]
        got = set(reply.topics)
        hit = all(any(t.intent in got for t in topics) for topics in wanted)
        answered += hit
        clarified += reply.kind == "clarify"
        wrong += (not hit) and reply.kind == "article"
        scoped += reply.kind == "out_of_scope"
        if len(wanted) > 1:
            two_total += 1
            two_hits += hit
        for table, key in ((per_topic, wanted[0][0].intent), (by_writer, question.writer)):
            table[key][0] += hit
            table[key][1] += 1
        if not hit:
            missed.append((question.id, reply.kind, list(reply.topics)))
    leaked = [
        (item.id, list(outcome.replies[item.id].topics))
        for item in round_.out_of_scope
        if outcome.replies[item.id].topics
    ]
    return AnswerCard(
        name=round_.name,
        answered=(answered, scored),
        clarified=(clarified, scored),
        wrong_topic=(wrong, scored),
        out_of_scope_reply=(scoped, scored),
        unscorable=unscorable,
        two_facts=(two_hits, two_total),
        leaks=(len(leaked), len(round_.out_of_scope)),
        per_topic={k: (h, t) for k, (h, t) in per_topic.items()},
        by_writer={k: (h, t) for k, (h, t) in by_writer.items()},
        first_replies=dict(Counter(outcome.replies[q.id].kind for q in round_.questions)),
        missed=missed,
        leaked=leaked,
    )


def first_run(name: str) -> Optional[dict]:
    return read_first_run(ANSWER_ROUNDS_DIR, name)


KNOWN_LEAKS = "known_leaks.yml"


def known_leaks(name: str) -> Dict[str, str]:
    """Out-of-scope message id -> why a spent round's message still gets an article answer."""
    return read_known(ANSWER_ROUNDS_DIR, name, KNOWN_LEAKS)


def card_from_dict(record: dict) -> AnswerCard:
    tuples = {
        k: tuple(v)
        for k, v in record.items()
        if k in ("answered", "clarified", "wrong_topic", "out_of_scope_reply", "two_facts", "leaks")
    }
    return AnswerCard(
        **{
            **record,
            **tuples,
            "per_topic": {k: tuple(v) for k, v in record["per_topic"].items()},
            "by_writer": {k: tuple(v) for k, v in record["by_writer"].items()},
        }
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("round", nargs="?", help="round name (default: the latest)")
    parser.add_argument("--json", type=Path, help="write the card and every reply here")
    parser.add_argument(
        "--record",
        action="store_true",
        help=f"keep this run as the round's first-run figures (roundN/{FIRST_RUN}); refused if kept",
    )
    args = parser.parse_args(argv)
    name = args.round or rounds()[-1]
    target = ANSWER_ROUNDS_DIR / name / FIRST_RUN
    if args.record and target.exists():
        print(f"{target} exists: a round has one first run", file=sys.stderr)
        return 2
    import tempfile

    from harness.servers import Assistant

    round_ = load_round(name)
    with tempfile.TemporaryDirectory() as workdir:
        assistant = Assistant(Path(workdir)).start()
        try:
            outcome = run(round_, assistant.say)
        finally:
            assistant.stop()
    card = score(round_, outcome)
    print("\n".join(card.lines()))
    print(f"\nmissed: {card.missed}\nleaked: {card.leaked}")
    if args.record:
        write_first_run(
            ANSWER_ROUNDS_DIR, name, f".venv/bin/python -m harness.answer_rounds {name} --record", card.as_dict()
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"card": card.as_dict(), "replies": {k: v.__dict__ for k, v in outcome.replies.items()}},
                indent=1,
                default=list,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
