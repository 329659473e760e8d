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
  * already handled ("my brother had a heart attack, he's in hospital and stable") -> not current
  * about someone else ("my son's knee looks bent") stays a current finding: the patient may be
    writing for someone beside them, and that person's emergency is still an emergency. It is
    recorded in `subject`.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

import yaml
from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.pipeline import Sentencizer
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

from clinical.lexicon import CLAUSE_STOPPERS, LEXICON_DIR, Lexicon, TermCompiler, load_lexicon
from clinical.normalise import SpellingNormaliser

PATTERNS_DIR = Path(__file__).resolve().parent / "patterns"
FINDINGS_FILE = PATTERNS_DIR / "findings.yml"
CONTEXT_FILE = PATTERNS_DIR / "context.yml"
FRAMES_FILE = LEXICON_DIR / "frames.yml"
SPAN_GROUP = "findings"
CONCEPT_LABEL = "concept:"  # span labels of concept mentions (finding mentions are labelled with their code)
# The lexicon concept whose words are medicine names (the speller compares unknown words with them).
MEDICINE_CONCEPT = "blood_thinner"

PRESENT, ABSENT, UNSURE = "present", "absent", "unsure"
# ConText categories of context.yml -> the context names recorded on a mention.
CONTEXTS = {
    "NEGATED_EXISTENCE": "negated",
    "POSSIBLE_EXISTENCE": "uncertain",
    "HYPOTHETICAL": "hypothetical",
    "HISTORICAL": "historical",
    "OTHER_PERSON": "other_person",
    "HANDLED": "handled",
}
# Not about now, or already in professional hands ("he's in hospital and stable").
NOT_CURRENT = {"hypothetical", "historical", "handled"}
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
                {"code": m.code, "start": m.start, "end": m.end, "contexts": list(m.contexts)} for m in self.mentions
            ],
        }


class _DeferredModule(types.ModuleType):
    """Stands in sys.modules for a module until one of its attributes is needed, then imports it.
    (importlib.util.LazyLoader cannot do this on Python 3.11: an `import` statement reads the module's
    `__spec__`, which makes LazyLoader load it at once.)"""

    def __init__(self, name: str, spec: Any) -> None:
        super().__init__(name)
        self.__spec__ = spec  # all an `import name` statement reads

    def __getattr__(self, attribute: str) -> Any:  # only for what the stand-in lacks: the real module's
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attribute)


def medspacy_context() -> Tuple[type, type]:
    """medspaCy's ConText and ConTextRule, imported where messages are read (the Rasa server, tests).

    medspaCy's package imports QuickUMLS, and QuickUMLS imports NLTK when it is imported, though only
    its QuickUMLS class uses it and we use only ConText: about 21 MiB of the Rasa server's memory for
    nothing. So NLTK is deferred: it loads, whole and as usual, the first time anything touches it.
    """
    if "nltk" not in sys.modules:
        spec = importlib.util.find_spec("nltk")
        if spec is not None:
            sys.modules["nltk"] = _DeferredModule("nltk", spec)
    from medspacy.context import ConText, ConTextRule

    return ConText, ConTextRule


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


class FindingReader:
    """Reads the findings of findings.yml in a message and decides each one's context. (Its Rasa adapter is
    components/finding_extractor.FindingExtractor, the NLU component that config.yml names.)"""

    def __init__(
        self,
        nlp: Language,
        findings_file: Path = FINDINGS_FILE,
        context_file: Path = CONTEXT_FILE,
        lexicon_dir: Path = LEXICON_DIR,
        frames_file: Path = FRAMES_FILE,
    ):
        ConText, ConTextRule = medspacy_context()
        self.nlp = nlp
        self.spec = load_spec(findings_file)
        self.matcher = Matcher(nlp.vocab, validate=True)
        for code, finding in self.spec["findings"].items():
            self.matcher.add(code, list(token_patterns(finding, nlp)))
        # Concepts of the lexicons (clinical/lexicon/): a concept with a `finding` is that finding on
        # its own; the others are combined by frames.yml.
        self.lexicon: Lexicon = load_lexicon(lexicon_dir)
        self.concept_matcher, self.concept_phrases = self._compile_concepts(nlp)
        self.frames = load_frames(frames_file, self.lexicon)
        self.codes = tuple(
            dict.fromkeys(
                [
                    *self.spec["findings"],
                    *(f for c in self.lexicon.concepts.values() for f in c.findings),
                    *(frame.finding for frame in self.frames),
                ]
            )
        )
        self.normaliser = (
            shared_normaliser()
            if (findings_file, lexicon_dir) == (FINDINGS_FILE, LEXICON_DIR)
            else normaliser_for(self.lexicon, self.spec)
        )
        self.sentencizer = Sentencizer()
        context_spec = load_spec(context_file)
        self.context = ConText(
            nlp,
            name="finding_context",
            rules=None,
            span_attrs=None,
            input_span_type="group",
            span_group_name=SPAN_GROUP,
            # A modifier overlapping a finding ("can't" in "can't walk") never modifies it.
            prune_on_target_overlap=True,
            terminating_types={category: ["CLAUSE_END"] for category in context_spec["clause_end_terminates"]},
        )
        self.context.add(
            [
                ConTextRule(
                    literal=rule["literal"],
                    category=rule["category"],
                    pattern=rule.get("pattern"),
                    direction=rule.get("direction", "FORWARD"),
                    max_scope=rule.get("max_scope", context_spec.get("default_max_scope")),
                )
                for rule in context_spec["rules"]
            ]
        )

    def _compile_concepts(self, nlp: Language) -> Tuple[Matcher, PhraseMatcher]:
        """Plain terms (words, alternatives, optional words) go to a PhraseMatcher, whose cost does not
        grow with the number of terms; terms with gaps, repeats or regular expressions to a Matcher.
        The compiler and its inflection table are let go on return, before the rest is built."""
        compiler = TermCompiler(nlp, self.lexicon)
        matcher = Matcher(nlp.vocab, validate=True)
        phrase_matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        for concept in self.lexicon.concepts.values():
            label = CONCEPT_LABEL + concept.name
            for pattern in compiler.concept_patterns(concept):
                phrases = compiler.phrases(pattern)
                if phrases is None:
                    matcher.add(label, [pattern])
                else:
                    phrase_matcher.add(label, [Doc(nlp.vocab, words=list(words)) for words in phrases])
        return matcher, phrase_matcher

    @classmethod
    def from_model(cls, model_path: Path) -> "FindingReader":
        import spacy

        return cls(spacy.load(model_path))

    def extract(self, message: "str | Doc") -> Extraction:
        """The findings of one message (text, or a Doc whose text is read). The text is normalised
        first (clinical/normalise.py: case, accents, spelling), so the character offsets of the
        mentions point into the normalised text."""
        text = message if isinstance(message, str) else message.text
        doc = self.sentencizer(self.nlp(self.normaliser.normalise(text)))
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
        """Findings of one Doc and their context; character offsets shifted by `offset`.

        Three kinds of span are read for context together: the finding patterns' spans, the
        concepts' spans (but for part-only concepts) and the phrase frames' spans ("can't" ... "walk"
        as one span, so its own "n't" never denies it). Nothing said inside a figure of speech (a
        masking concept: "cold feet") is read."""
        concept_spans = self._concept_spans(doc)
        phrases = [span for frame in self.frames if frame.ordered for span in frame.phrase_spans(doc, concept_spans)]
        part_only = {CONCEPT_LABEL + c.name for c in self.lexicon.concepts.values() if c.part_only or c.masks}
        masks = {CONCEPT_LABEL + c.name for c in self.lexicon.concepts.values() if c.masks}
        masked = {i for span in concept_spans if span.label_ in masks for i in range(span.start, span.end)}
        targets = [
            span
            for span in self._finding_spans(doc) + phrases + concept_spans
            if span.label_ not in part_only and not masked.intersection(range(span.start, span.end))
        ]
        doc.spans[SPAN_GROUP] = sorted(targets, key=lambda span: (span.start, span.end, span.label_))
        if not doc.spans[SPAN_GROUP]:
            return ()
        self.context(doc)
        mentions: List[Mention] = []
        concepts: List[ConceptMention] = []
        for span in doc.spans[SPAN_GROUP]:
            contexts = tuple(sorted({CONTEXTS[m.category] for m in span._.modifiers if m.category in CONTEXTS}))
            if span.label_.startswith(CONCEPT_LABEL):
                concept = self.lexicon.concepts[span.label_[len(CONCEPT_LABEL) :]]
                concepts.append(
                    ConceptMention(
                        concept.name,
                        span.sent.start,
                        span.start,
                        span.end,
                        offset + span.start_char,
                        offset + span.end_char,
                        contexts,
                    )
                )
                mentions += [
                    Mention(finding, span.text, offset + span.start_char, offset + span.end_char, contexts)
                    for finding in concept.findings
                ]
            else:
                mentions.append(
                    Mention(span.label_, span.text, offset + span.start_char, offset + span.end_char, contexts)
                )
        # Part-only concepts ("my" of "my knee hurts") take part in frames without a context of their own.
        concepts += [
            ConceptMention(
                span.label_[len(CONCEPT_LABEL) :],
                span.sent.start,
                span.start,
                span.end,
                offset + span.start_char,
                offset + span.end_char,
                (),
            )
            for span in concept_spans
            if span.label_ in part_only and span.label_ not in masks
        ]
        mentions += [
            m for frame in self.frames if not frame.ordered for m in frame.mentions(concepts, doc.text, offset)
        ]
        return tuple(mentions)

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

    def _concept_spans(self, doc: Doc) -> List[Span]:
        by_concept: Dict[str, List[Span]] = {}
        for match_id, start, end in [*self.concept_matcher(doc), *self.concept_phrases(doc)]:
            label = self.nlp.vocab.strings[match_id]
            by_concept.setdefault(label, []).append(Span(doc, start, end, label=label))
        spans = [span for spans in by_concept.values() for span in filter_spans(spans)]
        return sorted(spans, key=lambda span: (span.start, span.end, span.label_))


@dataclass(frozen=True)
class ConceptMention:
    """A concept said in a message: where (sentence and token positions) and in what context."""

    concept: str
    sentence: int
    start: int  # token positions
    end: int
    start_char: int
    end_char: int
    contexts: Tuple[str, ...]


@dataclass(frozen=True)
class Frame:
    """A finding made of concepts said together.

    An unordered frame: all `parts` in one sentence (`within`: at most that many words apart); a
    part may name alternatives ("calf|back_of_knee"). Its context is every part's: any part
    denied, hypothetical or past makes the finding so.
    An ordered frame is a phrase: its parts in that order, at most `within` words apart, with no
    punctuation or clause stopper between them; it becomes one span that context cues read as a
    whole, like a finding pattern's ("can't ... walk")."""

    finding: str
    parts: Tuple[Tuple[str, ...], ...]
    ordered: bool = False
    within: Optional[int] = None
    unless: Tuple[str, ...] = ()  # concepts that, said in the same sentence, undo the frame ("doesn't hurt")

    def mentions(self, concepts: Sequence[ConceptMention], text: str, offset: int) -> List[Mention]:
        found: Dict[Tuple[int, int], Mention] = {}
        undone = {m.sentence for m in concepts if m.concept in self.unless}
        for chain in self._chains(concepts, [], 0):
            if chain[0].sentence in undone:
                continue
            start = min(m.start_char for m in chain)
            end = max(m.end_char for m in chain)
            contexts = tuple(sorted({c for m in chain for c in m.contexts}))
            mention = Mention(self.finding, text[start - offset : end - offset], start, end, contexts)
            key = (start, end)
            rank = {None: -1, ABSENT: 0, UNSURE: 1, PRESENT: 2}
            if key not in found or rank[mention.status] > rank[found[key].status]:
                found[key] = mention
        return list(found.values())

    def phrase_spans(self, doc: Doc, concept_spans: Sequence[Span]) -> List[Span]:
        by_part = [[s for s in concept_spans if s.label_[len(CONCEPT_LABEL) :] in part] for part in self.parts]
        spans = []
        for first in by_part[0]:
            ends = [first]
            for candidates in by_part[1:]:
                ends = [
                    nxt
                    for prev in ends
                    for nxt in candidates
                    if nxt.start >= prev.end
                    and nxt.sent == prev.sent
                    and nxt.start - prev.end <= (self.within if self.within is not None else len(doc))
                    and not any(t.is_punct or t.lower_ in CLAUSE_STOPPERS for t in doc[prev.end : nxt.start])
                ]
            spans += [Span(doc, first.start, end.end, label=self.finding) for end in ends]
        return filter_spans(spans)

    def _chains(
        self, concepts: Sequence[ConceptMention], chain: List[ConceptMention], part: int
    ) -> Iterator[List[ConceptMention]]:
        if part == len(self.parts):
            yield list(chain)
            return
        for mention in concepts:
            if mention.concept not in self.parts[part] or mention in chain:
                continue
            if chain and not self._fits(chain[-1], mention):
                continue
            chain.append(mention)
            yield from self._chains(concepts, chain, part + 1)
            chain.pop()

    def _fits(self, previous: ConceptMention, mention: ConceptMention) -> bool:
        if mention.sentence != previous.sentence:
            return False
        if self.ordered and mention.start < previous.end:
            return False
        if self.within is not None:
            gap = mention.start - previous.end if mention.start >= previous.end else previous.start - mention.end
            return gap <= self.within
        return True


def load_frames(path: Path, lexicon: Lexicon) -> Tuple[Frame, ...]:
    if not path.exists():
        return ()
    frames = []
    for spec in load_spec(path).get("frames") or []:
        parts = tuple(tuple(part.split("|")) for part in spec["all"])
        unless = tuple(spec.get("unless") or ())
        unknown = ({name for part in parts for name in part} | set(unless)) - set(lexicon.concepts)
        if unknown:
            raise ValueError(f"frames.yml: {spec['finding']} names unknown concepts {sorted(unknown)}")
        frames.append(Frame(spec["finding"], parts, bool(spec.get("ordered", False)), spec.get("within"), unless))
    return tuple(frames)


def normaliser_for(lexicon: Lexicon, spec: Mapping[str, Any]) -> SpellingNormaliser:
    """The spelling normaliser aiming at these lexicons' and finding patterns' words."""
    medicines = lexicon.single_words(MEDICINE_CONCEPT) if MEDICINE_CONCEPT in lexicon.concepts else ()
    return SpellingNormaliser(lexicon.vocabulary() | pattern_vocabulary(spec), medicines)


@functools.lru_cache(maxsize=1)
def shared_normaliser() -> SpellingNormaliser:
    """One normaliser per process for the project's own lexicons: the finding extractor and the
    red-flag classifier read the same normalised text."""
    return normaliser_for(load_lexicon(LEXICON_DIR), load_spec(FINDINGS_FILE))


def pattern_vocabulary(spec: Any) -> FrozenSet[str]:
    """Every plain word of the finding patterns: spelling correction may aim at them too."""
    words: set = set()

    def walk(node: Any) -> None:
        if isinstance(node, str):
            words.update(w for w in node.lower().split() if w.isalpha())
        elif isinstance(node, dict):
            for key, value in node.items():
                if key not in ("REGEX", "description"):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(spec.get("findings"))
    return frozenset(words)


def pattern_digest(files: Optional[Sequence[Path]] = None) -> str:
    """A fingerprint of the pattern and lexicon files, so a changed pattern changes the trained
    model's cache key."""
    import hashlib

    digest = hashlib.sha256()
    for path in files or (FINDINGS_FILE, CONTEXT_FILE, *sorted(LEXICON_DIR.glob("*.yml"))):
        digest.update(json.dumps(load_spec(path), sort_keys=True).encode())
    return digest.hexdigest()
