"""Concept lexicons: the many lay words for each thing a patient may describe, as reviewable data.

Each file of clinical/lexicon/ holds concepts. A concept has a meaning, optionally the finding code(s)
it stands for on its own (`finding`), `part_only: true` when it is only ever the first part of a phrase
frame (the "can't" of "can't walk"), `masks: true` for a figure of speech whose words hide every
finding said inside them ("cold feet"), and terms in English (`en`) and other languages (`es`, `pt`...),
one term per line. Concepts without a finding are building blocks: frames (frames.yml) combine them
("calf" + "swelling" in one sentence is calf_swelling).

A term is a sequence of items separated by spaces, matched token by token on the lowercase words of
the normalised message (clinical/normalise.py). A word written in its base form matches all its
inflections ("swell": swells, swelled, swelling, swollen; "fall": fell, fallen); a word written in
another form matches only that form ("tripped" is not "trip", a journey; "warmed" is not "warm"):

  word            that word; a base form with all its inflections (spaCy's lookup lemma table)
  a|b|c           any one of these words
  item?           the item is optional ("blown up like a? balloon")
  =word           exactly this form, even for a base form ("=warm" but not "warmed up")
  @list           any word of a named word list (words.yml: @not, @my, @fill ...); "@foot|leg" too
  <concept>       any one-word term of another concept ("like a <round_thing>")
  ~               up to three words, none of them punctuation or a clause stopper
  #regex          a word matching the regular expression ("#\\d{2,3}" for a temperature)

Pure Python and spaCy: no Rasa imports.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple

import yaml
from spacy.language import Language

LEXICON_DIR = Path(__file__).resolve().parent / "lexicon"
WORDS_FILE = LEXICON_DIR / "words.yml"
FILLER_WORDS = 3
MAX_PHRASES = (
    30  # a term expanding to more word sequences stays a Matcher pattern (memory: 30 costs ~10 MB less than 100)
)
# How spaCy writes the "not" of a contraction: can't, cant, can not.
NEGATIONS = ("n't", "nt", "n’t", "not")
# Words a `~` gap never crosses: they start a new clause or reverse it.
CLAUSE_STOPPERS = (
    "but",
    "though",
    "although",
    "however",
    "whereas",
    "except",
    "if",
    "when",
    "because",
    "and",
    "or",
    "so",
    "then",
    "after",
    "before",
    "until",
    "since",
)


@dataclass(frozen=True)
class Concept:
    name: str
    means: str
    findings: Tuple[str, ...]  # the findings this concept is on its own (none for a building block)
    terms: Mapping[str, Tuple[str, ...]]  # language -> terms
    source: Path
    # A concept that only ever stands as the first part of a phrase frame ("can't" of "can't walk"),
    # never read on its own: its words are not a target of context cues, so "isn't" in "my calf isn't
    # swollen" still denies the swelling.
    part_only: bool = False
    # A figure of speech: every target said inside its words is dropped ("cold feet" is nerves).
    masks: bool = False

    def all_terms(self) -> Iterable[Tuple[str, str]]:
        for language, terms in self.terms.items():
            for term in terms:
                yield language, term


@dataclass
class Lexicon:
    concepts: Dict[str, Concept] = field(default_factory=dict)
    words: Dict[str, Tuple[str, ...]] = field(default_factory=dict)

    def vocabulary(self) -> FrozenSet[str]:
        """Every plain word the lexicons and word lists use: the targets of spelling correction."""
        found: set = set()
        for concept in self.concepts.values():
            for _, term in concept.all_terms():
                for item in term.split():
                    if item.startswith(("#", "@", "<", "~")):
                        continue
                    found.update(w for w in item.lstrip("=").rstrip("?*+").split("|") if w.isalpha())
        for words in self.words.values():
            found.update(w for w in words if w.isalpha())
        return frozenset(found)

    def single_words(self, concept: str) -> Tuple[str, ...]:
        terms = [t for _, t in self.concepts[concept].all_terms()]
        return tuple(t for t in terms if len(t.split()) == 1 and t.isalpha())


def load_lexicon(directory: Path = LEXICON_DIR) -> Lexicon:
    lexicon = Lexicon()
    words = yaml.safe_load(WORDS_FILE.read_text(encoding="utf-8")) if (directory / WORDS_FILE.name).exists() else {}
    lexicon.words = {name: tuple(str(w) for w in values) for name, values in (words.get("lists") or {}).items()}
    for path in sorted(directory.glob("*.yml")):
        if path.name in (WORDS_FILE.name, "frames.yml"):
            continue
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name, concept in (spec.get("concepts") or {}).items():
            if name in lexicon.concepts:
                raise ValueError(
                    f"concept {name} is defined twice ({path.name} and {lexicon.concepts[name].source.name})"
                )
            terms = {
                language: tuple(str(t) for t in concept.get(language) or ())
                for language in concept
                if language not in ("means", "finding", "part_only", "masks")
            }
            finding = concept.get("finding") or ()
            findings = (finding,) if isinstance(finding, str) else tuple(finding)
            lexicon.concepts[name] = Concept(
                name,
                concept.get("means", ""),
                findings,
                terms,
                path,
                bool(concept.get("part_only", False)),
                bool(concept.get("masks", False)),
            )
    return lexicon


class TermCompiler:
    """Turns terms into spaCy Matcher token patterns. Used while the lexicons are compiled and then
    let go, with the inflection table it holds: reading messages does not need it."""

    def __init__(self, nlp: Language, lexicon: Lexicon) -> None:
        self.nlp = nlp
        self.lexicon = lexicon

    @functools.cached_property
    def _written_words(self) -> FrozenSet[str]:
        """Every word the lexicons write, and the tokens it splits into ("can't": "ca", "n't"): the
        only words whose inflections compiling can ask for."""
        written = set()
        texts = [term for concept in self.lexicon.concepts.values() for _, term in concept.all_terms()]
        texts += [word for words in self.lexicon.words.values() for word in words]
        for text in texts:
            for word in re.split(r"[\s|]+", text):
                word = word.lstrip("=").rstrip("?*+")
                written.add(word)
                written.update(token.lower_ for token in self.nlp.make_doc(word))
        return frozenset(written)

    @functools.cached_property
    def _inflections(self) -> Dict[str, FrozenSet[str]]:
        """Lemma -> its forms, for the lexicons' own words: all compiling the lexicons needs. (An index
        of every lemma in the table is hundreds of thousands of small objects; freed after compiling,
        they left about 6 MiB of the Rasa server's heap resident.)"""
        return self._index(self._written_words)

    @functools.cached_property
    def _all_inflections(self) -> Dict[str, FrozenSet[str]]:
        """Lemma -> its forms, for every lemma: for a term the lexicons do not have (tests, reviewers)."""
        return self._index(None)

    @staticmethod
    def _index(lemmas: Optional[FrozenSet[str]]) -> Dict[str, FrozenSet[str]]:
        """Lemma -> the forms that have it, from the lookup table the pipeline lemmatizes with."""
        from importlib import resources

        path = resources.files("spacy_lookups_data").joinpath("data/en_lemma_lookup.json.gz")
        forms: Dict[str, set] = defaultdict(set)
        for form, lemma in json.loads(gzip.decompress(path.read_bytes())).items():
            lemma = lemma.lower()
            if lemmas is None or lemma in lemmas:
                forms[lemma].add(form.lower())
        return {lemma: frozenset(f) for lemma, f in forms.items()}

    def forms(self, word: str) -> Tuple[str, ...]:
        """The forms a written word matches: a base form all its inflections, any other form itself.
        (Not an lru_cache: one on a method would keep the compiler, and its table, alive for good.)"""
        if word.startswith("="):
            return (word[1:],)
        index = self._inflections if word in self._written_words else self._all_inflections
        return tuple(sorted({word} | index.get(word, frozenset())))

    def words_of(self, alternatives: Sequence[str]) -> List[Dict[str, Any]]:
        """The token dict for one position: any of these words."""
        split = [w for w in alternatives if len(self.nlp.make_doc(w.lstrip("="))) != 1]
        if split:
            raise ValueError(f"alternatives must be single tokens, {split} is not: write it as a term of its own")
        return [{"LOWER": {"IN": sorted({form for word in alternatives for form in self.forms(word)})}}]

    def compile(self, term: str) -> List[Dict[str, Any]]:
        pattern: List[Dict[str, Any]] = []
        for item in term.split():
            operator = None
            if item[-1] in "?*+" and len(item) > 1:
                item, operator = item[:-1], item[-1]
            if item == "~":
                pattern += [{"IS_PUNCT": False, "LOWER": {"NOT_IN": list(CLAUSE_STOPPERS)}, "OP": "?"}] * FILLER_WORDS
                continue
            tokens: List[Dict[str, Any]]
            if item.startswith("#"):
                tokens = [{"LOWER": {"REGEX": f"^(?:{item[1:]})$"}}]
            elif item.startswith("<") and item.endswith(">"):
                tokens = self.words_of(self.lexicon.single_words(item[1:-1]))
            elif all(
                w.startswith("@") or w.lstrip("=").replace("'", "").replace("-", "").isalnum() for w in item.split("|")
            ):
                words = [
                    w
                    for alt in item.split("|")
                    for w in (self.lexicon.words[alt[1:]] if alt.startswith("@") else (alt,))
                ]
                pieces = [t.lower_ for t in self.nlp.make_doc(words[0].lstrip("="))]
                if len(words) == 1 and len(pieces) > 1:  # "can't", "flu-like": its tokens in sequence
                    tokens = [
                        {"LOWER": {"IN": list(NEGATIONS if piece in NEGATIONS else self.forms(piece))}}
                        for piece in pieces
                    ]
                else:
                    tokens = self.words_of(words)
            else:  # punctuation and symbols: "&", "+", "/"
                tokens = [{"LOWER": t.lower_} for t in self.nlp.make_doc(item)]
            if operator:
                if len(tokens) != 1:
                    raise ValueError(f"{term!r}: an operator applies to one word")
                tokens = [{**tokens[0], "OP": operator}]
            pattern += tokens
        if not any(token.get("OP") in (None, "+") for token in pattern):
            raise ValueError(f"{term!r}: every item is optional")
        return pattern

    @staticmethod
    def phrases(pattern: Sequence[Dict[str, Any]], limit: int = MAX_PHRASES) -> Optional[List[Tuple[str, ...]]]:
        """The word sequences a pattern matches, when it is only words, alternatives and optional
        words: those are matched with spaCy's PhraseMatcher, whose cost does not grow with the number
        of terms. None for a pattern with gaps, repeats or regular expressions, or too many sequences."""
        sequences: List[Tuple[str, ...]] = [()]
        for token in pattern:
            if set(token) - {"LOWER", "OP"} or token.get("OP") not in (None, "?"):
                return None
            value = token["LOWER"]
            if isinstance(value, str):
                words = [value]
            elif set(value) == {"IN"}:
                words = list(value["IN"])
            else:
                return None
            options = [(w,) for w in words] + ([()] if token.get("OP") == "?" else [])
            sequences = [seq + option for seq in sequences for option in options]
            if len(sequences) > limit:
                return None
        return [seq for seq in sequences if seq]

    def concept_patterns(self, concept: Concept) -> List[List[Dict[str, Any]]]:
        patterns = []
        for _, term in concept.all_terms():
            try:
                patterns.append(self.compile(term))
            except (KeyError, ValueError) as error:
                raise ValueError(f"{concept.source.name}: {concept.name}: {term!r}: {error}") from error
        return patterns
