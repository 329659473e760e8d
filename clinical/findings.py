"""Finding extractor: what a patient's message says about their knee, and in what context.

Pure spaCy (no Rasa imports): the Rasa NLU component components/finding_extractor.py is a thin
adapter around it, and the unit tests use it directly.

Two data files drive it:
  * clinical/patterns/findings.yml: finding codes (the ones clinical/content/red_flags.yml reasons
    with, plus descriptive ones: onset, duration, side) and their token patterns, matched with
    spaCy's Matcher on lowercase forms and lemmas;
  * clinical/patterns/context.yml: context cues in patient language (negation, uncertainty, hypothetical,
    someone else, past history), applied with medspaCy's ConText (the maintained NegEx/ConText
    implementation for spaCy 3) to the spans the Matcher found.

How a mention's context becomes a status (the safety argument is in context.yml's header):
  * negated ("no fever", "didn't fall")           -> absent
  * uncertain ("I think it's swollen", "maybe")   -> unsure (counts as present for urgency)
  * hypothetical ("what if it swells?")           -> not a current finding
  * past history ("my mum had a dislocation years ago", "I broke it in 2015") -> not a current finding
  * about someone else ("my son's knee looks bent") stays a current finding: the patient may be
    writing for someone beside them, and that person's emergency is still an emergency. It is
    recorded in `subject`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import yaml
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.pipeline import Sentencizer
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

PATTERNS_DIR = Path(__file__).resolve().parent / "patterns"
FINDINGS_FILE = PATTERNS_DIR / "findings.yml"
CONTEXT_FILE = PATTERNS_DIR / "context.yml"
SPAN_GROUP = "findings"

PRESENT, ABSENT, UNSURE = "present", "absent", "unsure"
# ConText categories of context.yml -> the context names recorded on a mention.
CONTEXTS = {
    "NEGATED_EXISTENCE": "negated",
    "POSSIBLE_EXISTENCE": "uncertain",
    "HYPOTHETICAL": "hypothetical",
    "HISTORICAL": "historical",
    "OTHER_PERSON": "other_person",
}
NOT_CURRENT = {"hypothetical", "historical"}
# A sentence longer than this (in tokens) is read in overlapping windows: no cue reaches that far.
MAX_PIECE_TOKENS = 60
PIECE_OVERLAP = 12


@dataclass(frozen=True)
class Mention:
    code: str
    text: str
    start: int  # character offsets in the message
    end: int
    contexts: Tuple[str, ...]

    @property
    def status(self) -> Optional[str]:
        """present / absent / unsure, or None when the mention is not about now (hypothetical, past)."""
        if NOT_CURRENT & set(self.contexts):
            return None
        if "negated" in self.contexts:
            return ABSENT
        if "uncertain" in self.contexts:
            return UNSURE
        return PRESENT


@dataclass(frozen=True)
class Extraction:
    mentions: Tuple[Mention, ...]

    @property
    def statuses(self) -> Dict[str, str]:
        """Finding code -> status for this message. A code said both ways counts the most urgent way:
        present over unsure over absent (safety first: "no swelling... actually it is swollen")."""
        rank = {ABSENT: 0, UNSURE: 1, PRESENT: 2}
        statuses: Dict[str, str] = {}
        for mention in self.mentions:
            status = mention.status
            if status is not None and rank[status] >= rank.get(statuses.get(mention.code, ABSENT), 0):
                statuses[mention.code] = status
        return statuses

    @property
    def subject(self) -> str:
        """Whom the current findings are about, as far as the message says."""
        current = [m for m in self.mentions if m.status in (PRESENT, UNSURE)]
        return "someone_else" if current and all("other_person" in m.contexts for m in current) else "self"

    def as_dict(self) -> Dict[str, Any]:
        """The record added to the parse result (no message text beyond the matched words' offsets)."""
        statuses = self.statuses
        return {
            "present": sorted(c for c, s in statuses.items() if s == PRESENT),
            "unsure": sorted(c for c, s in statuses.items() if s == UNSURE),
            "absent": sorted(c for c, s in statuses.items() if s == ABSENT),
            "subject": self.subject,
            "mentions": [
                {"code": m.code, "start": m.start, "end": m.end, "contexts": list(m.contexts)}
                for m in self.mentions
            ],
        }


def load_spec(path: Path) -> Dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def token_patterns(spec: Mapping[str, Any], nlp: Language) -> Iterable[List[Dict[str, Any]]]:
    """A finding's token patterns: its `patterns` as written, and each of its `phrases` twice (on
    lowercase forms and on lemmas, so "swelled", "swelling" and "swollen" can share one phrase)."""
    yield from spec.get("patterns") or []
    for phrase in spec.get("phrases") or []:
        words = [token.lower_ for token in nlp.make_doc(phrase)]
        yield [{"LOWER": word} for word in words]
        yield [{"LEMMA": word} for word in words]


class FindingExtractor:
    """Finds the findings of findings.yml in a message and decides each one's context."""

    def __init__(self, nlp: Language, findings_file: Path = FINDINGS_FILE, context_file: Path = CONTEXT_FILE):
        # Imported here: medspaCy is only needed where messages are read (the Rasa server, tests).
        from medspacy.context import ConText, ConTextRule

        self.nlp = nlp
        self.spec = load_spec(findings_file)
        self.codes = tuple(self.spec["findings"])
        self.matcher = Matcher(nlp.vocab, validate=True)
        for code, finding in self.spec["findings"].items():
            self.matcher.add(code, list(token_patterns(finding, nlp)))
        self.sentencizer = Sentencizer()
        self.context = ConText(
            nlp,
            name="finding_context",
            rules=None,
            span_attrs=None,
            input_span_type="group",
            span_group_name=SPAN_GROUP,
            # A modifier overlapping a finding ("can't" in "can't walk") never modifies it.
            prune_on_target_overlap=True,
        )
        context_spec = load_spec(context_file)
        self.context.add([
            ConTextRule(
                literal=rule["literal"],
                category=rule["category"],
                pattern=rule.get("pattern"),
                direction=rule.get("direction", "FORWARD"),
                max_scope=rule.get("max_scope", context_spec.get("default_max_scope")),
            )
            for rule in context_spec["rules"]
        ])

    @classmethod
    def from_model(cls, model_path: Path) -> "FindingExtractor":
        import spacy

        return cls(spacy.load(model_path))

    def extract(self, message: "str | Doc") -> Extraction:
        """The findings of one message. Accepts text, or a Doc of this extractor's pipeline (as the
        Rasa component gets from SpacyNLP); the text is lowercased first, as Rasa does."""
        doc = self.nlp(message.lower()) if isinstance(message, str) else message
        if not doc.has_annotation("SENT_START"):
            doc = self.sentencizer(doc)
        pieces = list(self._pieces(doc))
        if len(pieces) == 1:
            return Extraction(self._read(doc, 0))
        # ConText compares every cue with every finding of the Doc it is given, so a long message is
        # read sentence by sentence (its scope never crosses a sentence anyway): 100 kB stays linear.
        lemmatizer = self.nlp.get_pipe("lemmatizer")
        mentions: Dict[Tuple[str, int], Mention] = {}
        for start, end in pieces:
            piece = self.sentencizer(lemmatizer(self.nlp.make_doc(doc[start:end].text)))
            for mention in self._read(piece, doc[start].idx):
                mentions.setdefault((mention.code, mention.start), mention)
        return Extraction(tuple(sorted(mentions.values(), key=lambda m: (m.start, m.end, m.code))))

    def _read(self, doc: Doc, offset: int) -> Tuple[Mention, ...]:
        """Findings of one Doc and their context; character offsets shifted by `offset`."""
        doc.spans[SPAN_GROUP] = self._finding_spans(doc)
        if not doc.spans[SPAN_GROUP]:
            return ()
        self.context(doc)
        return tuple(
            Mention(
                code=span.label_,
                text=span.text,
                start=offset + span.start_char,
                end=offset + span.end_char,
                contexts=tuple(sorted({CONTEXTS[m.category] for m in span._.modifiers if m.category in CONTEXTS})),
            )
            for span in doc.spans[SPAN_GROUP]
        )

    @staticmethod
    def _pieces(doc: Doc) -> Iterable[Tuple[int, int]]:
        """Token ranges to read: sentences, and a sentence longer than MAX_PIECE_TOKENS (a long
        message without full stops) in windows that overlap by PIECE_OVERLAP tokens, so a finding
        cut by one window is whole in the next."""
        for sentence in doc.sents:
            start = sentence.start
            while sentence.end - start > MAX_PIECE_TOKENS:
                yield start, start + MAX_PIECE_TOKENS
                start += MAX_PIECE_TOKENS - PIECE_OVERLAP
            yield start, sentence.end

    def _finding_spans(self, doc: Doc) -> List[Span]:
        by_code: Dict[str, List[Span]] = {}
        for match_id, start, end in self.matcher(doc):
            code = self.nlp.vocab.strings[match_id]
            by_code.setdefault(code, []).append(Span(doc, start, end, label=code))
        # Per code, the longest of overlapping matches; different codes may share words
        # ("swollen calf" is both swelling and calf_swelling).
        spans = [span for spans in by_code.values() for span in filter_spans(spans)]
        return sorted(spans, key=lambda span: (span.start, span.end, span.label_))


def pattern_digest(files: Sequence[Path] = (FINDINGS_FILE, CONTEXT_FILE)) -> str:
    """A fingerprint of the pattern files, so a changed pattern changes the trained model's cache key."""
    import hashlib

    digest = hashlib.sha256()
    for path in files:
        digest.update(json.dumps(load_spec(path), sort_keys=True).encode())
    return digest.hexdigest()
