"""Text normalisation before a message is read for findings: spelling, accents, look-alike characters.

Patients misspell the very words that matter ("swolen", "calff", "warfrin", "stragten"). Before the
finding patterns and lexicons are matched, each word that is not English and not one of the
assistant's own lexicon words is corrected to the nearest lexicon word, if one is close enough:

  * Is it a word at all? symspellpy's own English frequency dictionary (82,765 words, shipped in the
    symspellpy wheel, held in a marisa-trie) says. A real English word is never "corrected": "half"
    stays "half", never "calf"; "stolen" stays "stolen".
  * Which lexicon word is meant? symspellpy's lookup over the lexicon vocabulary only (a few thousand
    words, so it is small and fast), edit distance 1 for words of up to 5 letters, 2 for longer ones.
  * Medicine names are long and misspelled in creative ways ("zarelto", "elequis", "a liquis"):
    rapidfuzz compares a word, and a word joined with the next, with the medicine names.

Accents are folded ("rodilla hinchada, está caliente" -> "esta"), so the Spanish and Portuguese
lexicons are written without them. Nothing here changes what a message means; it only makes the
spelling match the lexicons. Pure Python, no Rasa imports.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from importlib import resources
from typing import Dict, Iterable, List, Optional, Tuple

import marisa_trie

# Characters patients' keyboards and phones produce for the same thing.
_TRANSLATE = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u02bc": "'",
        "\u00b4": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
    }
)
# A run of the same letter three or more times is emphasis ("sooo swolllen", "heeelp").
_REPEATS = re.compile(r"([a-z])\1{2,}")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
MIN_CORRECTABLE = 5  # shorter words are too ambiguous to correct ("nee", "indo"): the lexicons list them
MIN_TARGET = 3  # a lexicon word a misspelling may be corrected to can be short ("numb", "calf")
MIN_SPLIT_PART = 3  # each of two words run together ("leg" + "swolen"), at least this long
MIN_SPLIT_WORD = 7  # shorter words are too often a word of another language ("marcar": "mar car")
MEDICINE_MIN_SCORE = 90  # rapidfuzz ratio (0-100) for a medicine name ("marcar" is not "marcumar")


@functools.lru_cache(maxsize=1)
def english_words() -> marisa_trie.Trie:
    """The words of symspellpy's English frequency dictionary (`word in english_words()`)."""
    text = resources.files("symspellpy").joinpath("frequency_dictionary_en_82_765.txt").read_text(encoding="utf-8")
    return marisa_trie.Trie(line.split(" ", 1)[0] for line in text.splitlines() if line)


def fold(text: str) -> str:
    """Lowercase, unify look-alike characters, drop accents, calm repeated letters."""
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE).lower()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    # Keep two of a tripled letter: "swolllen" -> "swollen", "sooo" -> "soo" (the speller does the rest).
    return _REPEATS.sub(r"\1\1", text)


class SpellingNormaliser:
    """Corrects misspelled words to the lexicon words they are closest to."""

    def __init__(self, vocabulary: Iterable[str], medicines: Iterable[str] = ()) -> None:
        from symspellpy import SymSpell

        self.vocabulary = frozenset(w for w in vocabulary if w.isalpha())
        self._english = english_words()
        self.medicines = tuple(sorted({m for m in medicines if len(m) >= 5}))
        self._speller = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
        for word in self.vocabulary:
            if len(word) >= MIN_TARGET:
                self._speller.create_dictionary_entry(word, 1)

    def is_known(self, word: str) -> bool:
        """An English word, or one of the lexicons' own: never corrected."""
        return word in self.vocabulary or word in self._english

    # One normaliser lives as long as the process, so caching on `self` keeps nothing alive too long.
    @functools.lru_cache(maxsize=20000)  # noqa: B019
    def correct_word(self, word: str) -> Optional[str]:
        """The lexicon word meant by an unknown word, or None when the word is known or unclear."""
        if len(word) < MIN_CORRECTABLE or self.is_known(word) or not word.isalpha():
            return None
        from symspellpy import Verbosity

        distance = 1 if len(word) <= 6 else 2
        suggestions = self._speller.lookup(word, Verbosity.CLOSEST, max_edit_distance=distance)
        # Two equally close lexicon words ("calfs" -> calf? calves?) are fine when they share a
        # first letter; otherwise the word is unclear and stays as it is.
        if suggestions and len({s.term[0] for s in suggestions}) == 1:
            return min(suggestions, key=lambda s: (s.distance, s.term)).term
        return self._medicine(word)

    def _medicine(self, word: str) -> Optional[str]:
        if not self.medicines or len(word) < 7:
            return None
        from rapidfuzz import fuzz, process

        best = process.extractOne(word, self.medicines, scorer=fuzz.ratio, score_cutoff=MEDICINE_MIN_SCORE)
        return best[0] if best else None

    def normalise(self, text: str) -> str:
        """The folded text with misspelled words replaced by the lexicon words they stand for."""
        folded = fold(text)
        pieces: List[str] = []
        last = 0
        matches = list(_WORD.finditer(folded))
        skip_next = False
        for i, match in enumerate(matches):
            if skip_next:
                skip_next = False
                continue
            word = match.group()
            replacement = self.correct_word(word)
            # "zarel to": a medicine name split in two by a phone's keyboard.
            if (
                replacement is None
                and not self.is_known(word)
                and i + 1 < len(matches)
                and folded[match.end() : matches[i + 1].start()] == " "
            ):
                medicine = self._medicine(word + matches[i + 1].group())
                if medicine is not None:
                    pieces.append(folded[last : match.start()] + medicine)
                    last = matches[i + 1].end()
                    skip_next = True
                    continue
            if replacement is None and not self.is_known(word):
                replacement = self.split(word)
            if replacement is not None:
                pieces.append(folded[last : match.start()] + replacement)
                last = match.end()
        pieces.append(folded[last:])
        return "".join(pieces)

    def split(self, word: str) -> Optional[str]:
        """Two words run together ("legswolen", "cantcatch"), as two words: a split into two known
        words first, then one known and one correctable. At least one of them must be a lexicon word,
        so that a name or a word the dictionary lacks is not cut into unrelated pieces."""
        if len(word) < MIN_SPLIT_WORD or not word.isalpha():
            return None
        cuts = [(word[:i], word[i:]) for i in range(MIN_SPLIT_PART, len(word) - MIN_SPLIT_PART + 1)]
        for left, right in cuts:
            if self.is_known(left) and self.is_known(right) and (left in self.vocabulary or right in self.vocabulary):
                return f"{left} {right}"
        for left, right in cuts:
            if self.is_known(left) and (corrected := self.correct_word(right)) is not None:
                return f"{left} {corrected}"
            if self.is_known(right) and (corrected := self.correct_word(left)) is not None:
                return f"{corrected} {right}"
        return None

    def corrections(self, text: str) -> Dict[str, str]:
        """Which words of a message were corrected, to what (for tests and reviewers)."""
        return {m.group(): c for m in _WORD.finditer(fold(text)) if (c := self.correct_word(m.group()))}


def tokens_of(text: str) -> Tuple[str, ...]:
    return tuple(_WORD.findall(fold(text)))
