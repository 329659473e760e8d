"""Blind rounds of red-flag vignettes (tests/vignettes/blind/roundN/): load, run, score, report.

A round is written by several independent writers who saw only ../shared/clinical-safety.md (never
the assistant's lexicons, rules, code or earlier rounds). Each writer's file holds single messages
(`vignettes`, with level, kind and who) and `conversations` (turns, escalate_at, level, kind).

Every message goes through the real assistant over the REST channel, as a patient's would. What the
first message of the reply is decides how it was handled (`reply_kind`): an emergency reply carries
the emergency number, a same-day reply says "medical care today", and so on.

    .venv/bin/python -m harness.blind_rounds round3                 # run one round, print its card
    .venv/bin/python -m harness.blind_rounds round3 --json out.json # and keep every reply's kind

The first run of a fresh round is its honest figure: docs/safety-card.md records it before anything is
tuned on the round's failures. tests/test_blind_rounds.py runs every round in `make test`.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import yaml

BLIND_DIR = Path(__file__).resolve().parent.parent / "tests" / "vignettes" / "blind"
EMERGENCY, URGENT = "emergency", "urgent"
NOT_EMERGENCY = ("see_clinician", "self_care_info")
# Reply kinds, from the most to the least urgent. An escalation is the first message of the reply.
ESCALATED = ("crisis", "emergency")
SAME_DAY_OR_MORE = ESCALATED + ("urgent",)
# The crisis reply, and the notice for a message it cannot read, which names the crisis line too
# (tests/test_domain.py checks it does; until round 5 was spent it did not).
GIVES_CRISIS_LINE = ("crisis", "language")
REPLY_KINDS = ESCALATED + ("language", "urgent", "ask", "clarify", "out_of_scope", "article", "other", "none")

Say = Callable[[str, str], List[dict]]


@dataclass(frozen=True)
class Vignette:
    id: str
    text: str
    level: str
    kind: str
    who: str = "self"
    lang: str = "en"
    writer: str = ""


@dataclass(frozen=True)
class Conversation:
    id: str
    turns: Tuple[str, ...]
    escalate_at: Optional[int]
    level: Optional[str]
    kind: str
    writer: str = ""


@dataclass
class Round:
    name: str
    vignettes: List[Vignette] = field(default_factory=list)
    conversations: List[Conversation] = field(default_factory=list)
    writers: Dict[str, str] = field(default_factory=dict)  # writer id -> persona


def round_names(directory: Path) -> List[str]:
    """The rounds in a folder of blind rounds, oldest first (round3, round4, ...); shared with
    harness/answer_rounds.py."""
    return sorted((p.name for p in directory.glob("round*") if p.is_dir()), key=lambda n: int(n[5:]))


def writer_files(directory: Path, name: str) -> Iterator[dict]:
    """Each writer's file of a round, read; a round's list of known misses or leaks (an id -> why
    map, with no `writer`) is not one."""
    for path in sorted((directory / name).glob("*.yml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if "writer" in spec:
            yield spec


def read_known(directory: Path, name: str, file_name: str) -> Dict[str, str]:
    """A spent round's id -> why list (known_misses.yml, known_leaks.yml), empty if it has none."""
    path = directory / name / file_name
    return dict(yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.exists() else {}


def read_first_run(directory: Path, name: str) -> Optional[dict]:
    path = directory / name / FIRST_RUN
    return json.loads(path.read_text()) if path.exists() else None


def write_first_run(directory: Path, name: str, command: str, card: dict) -> None:
    """Keep a round's first run, with the commit it measured."""
    import subprocess

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    (directory / name / FIRST_RUN).write_text(
        json.dumps(
            {"round": name, "measured": f"main at {commit}", "command": command, "card": card}, indent=1, default=list
        )
    )


def rounds() -> List[str]:
    """The red-flag rounds on disk, oldest first."""
    return round_names(BLIND_DIR)


def load_round(name: str) -> Round:
    loaded = Round(name)
    for spec in writer_files(BLIND_DIR, name):
        writer = spec["writer"]
        loaded.writers[writer] = spec.get("persona", "")
        for item in spec.get("vignettes") or []:
            loaded.vignettes.append(
                Vignette(
                    id=item["id"],
                    text=str(item["text"]),
                    level=item["level"],
                    kind=item["kind"],
                    who=item.get("who", "self"),
                    lang=item.get("lang", "en"),
                    writer=writer,
                )
            )
        for item in spec.get("conversations") or []:
            loaded.conversations.append(
                Conversation(
                    id=item["id"],
                    turns=tuple(str(t) for t in item["turns"]),
                    escalate_at=item.get("escalate_at"),
                    level=item.get("level"),
                    kind=item.get("kind") or "none",
                    writer=writer,
                )
            )
    return loaded


# --- how a reply was handled ----------------------------------------------------------------
@dataclass(frozen=True)
class ReplyMarkers:
    """Words that identify each kind of reply, read from the domain (one place for the texts)."""

    emergency_number: str
    crisis_line: str

    def kind(self, replies: Sequence[dict]) -> str:
        texts = [r.get("text") or "" for r in replies]
        if not texts:
            return "none"
        first = texts[0]
        lowered = first.lower()
        if "i can only read" in lowered and self.emergency_number in first:
            return "language"
        if self.emergency_number in first and "emergency" in lowered:
            return "crisis" if self.crisis_line in first else "emergency"
        if "medical care today" in lowered:
            return "urgent"
        if "check this isn't an emergency" in lowered:
            return "ask"
        if "did you mean" in lowered or "not sure i understood" in lowered or "which of these" in lowered:
            return "clarify"
        if "outside what i can help with" in lowered:
            return "out_of_scope"
        if any("Source:" in t or "Sources:" in t for t in texts):
            return "article"
        return "other"


def markers_from_domain() -> ReplyMarkers:
    from harness.domain import load_domain

    slots = load_domain()["slots"]
    return ReplyMarkers(slots["emergency_number"]["initial_value"], slots["crisis_line"]["initial_value"])


# --- running --------------------------------------------------------------------------------
@dataclass
class Outcome:
    single: Dict[str, str] = field(default_factory=dict)  # vignette id -> reply kind
    turns: Dict[str, List[str]] = field(default_factory=dict)  # conversation id -> kinds per turn


def run(round_: Round, say: Say, markers: ReplyMarkers) -> Outcome:
    outcome = Outcome()
    for vignette in round_.vignettes:
        outcome.single[vignette.id] = markers.kind(say(f"blind-{uuid.uuid4().hex[:10]}", vignette.text))
    for conversation in round_.conversations:
        sender = f"blind-{uuid.uuid4().hex[:10]}"
        outcome.turns[conversation.id] = [markers.kind(say(sender, text)) for text in conversation.turns]
    return outcome


# --- scoring --------------------------------------------------------------------------------
def miss_rate_upper_bound(misses: int, total: int, confidence: float = 0.95) -> float:
    """One-sided exact (Clopper-Pearson) upper bound on the miss rate: with 0 misses of N about 3/N,
    as ../shared/clinical-safety.md says."""
    from scipy.stats import beta

    if total == 0:
        return 1.0
    if misses >= total:
        return 1.0
    return float(beta.ppf(confidence, misses + 1, total - misses))


def _ratio(hits: int, total: int) -> str:
    return f"{hits}/{total} = {100 * hits / total:.1f}%" if total else "0/0"


@dataclass
class Card:
    """A round's figures."""

    name: str
    emergency: Tuple[int, int]
    number_given: Tuple[int, int]  # the emergency reply, or the language notice (which names the number too)
    per_kind: Dict[str, Tuple[int, int]]
    over_triage: Tuple[int, int]
    asked_non_emergency: Tuple[int, int]
    urgent: Tuple[int, int]
    urgent_as_emergency: int
    conversations: Tuple[int, int]
    urgent_conversations: Tuple[int, int]
    quiet_over_triage: Tuple[int, int]
    early: int
    crisis: Tuple[int, int]
    missed: List[Tuple[str, str, str]]  # id, kind, what the reply was
    over_triaged: List[str]
    urgent_missed: List[Tuple[str, str]]
    conversations_missed: List[Tuple[str, List[str]]]
    by_writer: Dict[str, Tuple[int, int]]
    by_who: Dict[str, Tuple[int, int]]

    def as_dict(self) -> dict:
        return self.__dict__.copy()

    def lines(self) -> List[str]:
        """The card in markdown, as docs/safety-card.md shows it."""
        hits, total = self.emergency
        out = [
            f"| measure | {self.name} |",
            "|---|---|",
            f"| emergencies escalated (reply starts with the emergency number) | {_ratio(hits, total)}; "
            f"95% upper bound on the miss rate {100 * miss_rate_upper_bound(total - hits, total):.1f}% |",
            f"| emergencies given the emergency number at all (the emergency reply, or the notice that only "
            f"English and Spanish are read, which names the number) | {_ratio(*self.number_given)} |",
            f"| crisis messages given the crisis line (the crisis reply, or from round 5 on also the notice "
            f"for a message it cannot read) | {_ratio(*self.crisis)} |",
            f"| non-emergencies escalated (over-triage) | {_ratio(*self.over_triage)} |",
            f'| non-emergencies given the red-flag questions ("ask" path) | {_ratio(*self.asked_non_emergency)} |',
            f"| urgent messages given same-day advice or more | {_ratio(*self.urgent)} "
            f"({self.urgent_as_emergency} of them the emergency reply) |",
            f"| emergency conversations escalated by the right turn | {_ratio(*self.conversations)} |",
            "| urgent conversations given same-day advice or more by the right turn | "
            f"{_ratio(*self.urgent_conversations)} |",
            f"| quiet conversations escalated | {_ratio(*self.quiet_over_triage)}; "
            f"escalations before the red-flag turn: {self.early} |",
            "",
            "| emergency kind | escalated | 95% upper bound on the miss rate |",
            "|---|---|---|",
        ]
        for kind, (k_hits, k_total) in sorted(self.per_kind.items()):
            out.append(
                f"| {kind} | {k_hits}/{k_total} | {100 * miss_rate_upper_bound(k_total - k_hits, k_total):.0f}% |"
            )
        got = Counter(reply for _, _, reply in self.missed)
        if got:
            out += [
                "",
                "What the missed emergencies got: " + ", ".join(f"{kind} {n}" for kind, n in got.most_common()) + ".",
            ]
        out += ["", "| writer | emergencies escalated |", "|---|---|"]
        out += [f"| {writer} | {_ratio(*counts)} |" for writer, counts in sorted(self.by_writer.items())]
        out += ["", "| about | emergencies escalated |", "|---|---|"]
        out += [f"| {who} | {_ratio(*counts)} |" for who, counts in sorted(self.by_who.items())]
        return out


def score(round_: Round, outcome: Outcome) -> Card:
    emergencies = [v for v in round_.vignettes if v.level == EMERGENCY]
    urgents = [v for v in round_.vignettes if v.level == URGENT]
    others = [v for v in round_.vignettes if v.level in NOT_EMERGENCY]
    escalated = {v.id for v in round_.vignettes if outcome.single[v.id] in ESCALATED}

    per_kind: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    by_writer: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    by_who: Dict[str, List[int]] = defaultdict(lambda: [0, 0])
    for v in emergencies:
        for table, key in ((per_kind, v.kind), (by_writer, v.writer), (by_who, v.who)):
            table[key][0] += v.id in escalated
            table[key][1] += 1
    crisis = [v for v in emergencies if v.kind == "suicide_or_self_harm"]

    conv_hits = conv_total = urgent_hits = urgent_total = quiet_over = quiet_total = early = 0
    conv_missed: List[Tuple[str, List[str]]] = []
    for conversation in round_.conversations:
        kinds = outcome.turns[conversation.id]
        at = conversation.escalate_at
        if at is None:
            quiet_total += 1
            quiet_over += any(k in ESCALATED for k in kinds)
            continue
        wanted = ESCALATED if conversation.level == EMERGENCY else SAME_DAY_OR_MORE
        reached = any(k in wanted for k in kinds[:at])
        early += any(k in ESCALATED for k in kinds[: at - 1])
        if conversation.level == EMERGENCY:
            conv_total += 1
            conv_hits += reached
        else:
            urgent_total += 1
            urgent_hits += reached
        if not reached:
            conv_missed.append((conversation.id, kinds))

    return Card(
        name=round_.name,
        emergency=(len([v for v in emergencies if v.id in escalated]), len(emergencies)),
        number_given=(
            len([v for v in emergencies if outcome.single[v.id] in ESCALATED + ("language",)]),
            len(emergencies),
        ),
        per_kind={k: (h, t) for k, (h, t) in per_kind.items()},
        over_triage=(len([v for v in others if v.id in escalated]), len(others)),
        asked_non_emergency=(len([v for v in others if outcome.single[v.id] == "ask"]), len(others)),
        urgent=(len([v for v in urgents if outcome.single[v.id] in SAME_DAY_OR_MORE]), len(urgents)),
        urgent_as_emergency=len([v for v in urgents if v.id in escalated]),
        conversations=(conv_hits, conv_total),
        urgent_conversations=(urgent_hits, urgent_total),
        quiet_over_triage=(quiet_over, quiet_total),
        early=early,
        crisis=(len([v for v in crisis if outcome.single[v.id] in GIVES_CRISIS_LINE]), len(crisis)),
        missed=[(v.id, v.kind, outcome.single[v.id]) for v in emergencies if v.id not in escalated],
        over_triaged=[v.id for v in others if v.id in escalated],
        urgent_missed=[(v.id, outcome.single[v.id]) for v in urgents if outcome.single[v.id] not in SAME_DAY_OR_MORE],
        conversations_missed=conv_missed,
        by_writer={k: (h, t) for k, (h, t) in by_writer.items()},
        by_who={k: (h, t) for k, (h, t) in by_who.items()},
    )


FIRST_RUN = "first_run.json"
# Emergencies of a spent round that still get no emergency number, each with why: written when the
# failures are read, so that the round keeps guarding everything else (tests/test_blind_rounds.py).
KNOWN_MISSES = "known_misses.yml"


def first_run(name: str) -> Optional[dict]:
    """A round's first-run figures, recorded before anything was tuned on it (--record)."""
    return read_first_run(BLIND_DIR, name)


def known_misses(name: str) -> Dict[str, str]:
    """Vignette id -> why the assistant still misses it (the round's known_misses.yml, if any)."""
    return read_known(BLIND_DIR, name, KNOWN_MISSES)


def card_from_dict(record: dict) -> "Card":
    fields = {k: (tuple(v) if isinstance(v, list) and k not in LIST_FIELDS else v) for k, v in record.items()}
    fields["per_kind"] = {k: tuple(v) for k, v in record["per_kind"].items()}
    fields["by_writer"] = {k: tuple(v) for k, v in record["by_writer"].items()}
    fields["by_who"] = {k: tuple(v) for k, v in record["by_who"].items()}
    return Card(**fields)  # type: ignore[arg-type]  # the JSON's fields, checked by the dataclass itself


LIST_FIELDS = ("missed", "over_triaged", "urgent_missed", "conversations_missed")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("round", nargs="?", help="round name (default: the latest)")
    parser.add_argument("--json", type=Path, help="write the card and every reply's kind here")
    parser.add_argument(
        "--record",
        action="store_true",
        help=f"keep this run as the round's first-run figures (roundN/{FIRST_RUN}); refused if kept",
    )
    args = parser.parse_args(argv)
    name = args.round or rounds()[-1]
    import tempfile

    from harness.servers import Assistant

    round_ = load_round(name)
    with tempfile.TemporaryDirectory() as workdir:
        assistant = Assistant(Path(workdir)).start()
        try:
            outcome = run(round_, assistant.say, markers_from_domain())
        finally:
            assistant.stop()
    card = score(round_, outcome)
    print("\n".join(card.lines()))
    print(
        f"\nmissed: {card.missed}\nover-triaged: {card.over_triaged}\nurgent missed: {card.urgent_missed}"
        f"\nconversations missed: {card.conversations_missed}"
    )
    if args.record:
        target = BLIND_DIR / name / FIRST_RUN
        if target.exists():
            print(f"{target} exists: a round has one first run", file=sys.stderr)
            return 2
        write_first_run(BLIND_DIR, name, f".venv/bin/python -m harness.blind_rounds {name} --record", card.as_dict())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {"card": card.as_dict(), "single": outcome.single, "turns": outcome.turns}, indent=1, default=list
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
