"""Can the assistant read this message at all? Pure Python.

The assistant reads English, and the red-flag lexicons know some Spanish and Portuguese. A message it
cannot read may still describe an emergency, so it gets an honest notice that names the emergency
number (and the crisis line) instead of a guess. Two kinds of message cannot be read:

  * one written mostly in another script (Chinese, Korean, Arabic, Cyrillic, Devanagari...);
  * one in Latin letters in another language (French, German, Turkish, Swahili, Tagalog...). A
    language identifier (py3langid, langid.py's model) says which language it is; as it misreads
    short English ("wats cartilage do" looks French to it), a message counts as another language only
    when it is confident, the message has a few words, and most of its words are neither English
    (symspellpy's dictionary) nor the lexicons' own (their Spanish and Portuguese).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import TYPE_CHECKING, FrozenSet, Optional

from clinical.normalise import english_words, fold

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

# Below this share of Latin letters a message is not read (a few English words inside a Chinese
# message do not make it readable).
MIN_LATIN_SHARE = 0.5


# One Chinese character or Korean syllable carries about as much as a short word: it weighs as
# much as three Latin letters.
SYLLABIC_WEIGHT = 3
SYLLABIC = ("CJK", "HANGUL", "HIRAGANA", "KATAKANA")

# Languages in Latin letters that the assistant reads (English) or its lexicons know (es, pt).
READ_LANGUAGES = frozenset({"en", "es", "pt"})
# Another language only when the identifier is at least this sure it is none of those, the message
# has at least this many words, and less than this share of them are English or lexicon words. Chosen on the messages
# of the red-flag corpus, the NLU data and blind rounds 3-5: every message in another language in
# Latin letters caught, no English, Spanish or Portuguese one (tests/test_language.py).
MIN_CONFIDENCE = 0.9
MIN_WORDS = 4
MAX_KNOWN_SHARE = 0.6
_WORD = re.compile(r"[a-z]{2,}")  # one letter is too little to tell ("r u open")


def latin_share(text: str) -> float:
    latin = other = 0
    for character in text:
        if not character.isalpha():
            continue
        name = unicodedata.name(character, "")
        if name.startswith("LATIN"):
            latin += 1
        else:
            other += SYLLABIC_WEIGHT if name.startswith(SYLLABIC) else 1
    return latin / (latin + other) if latin + other else 1.0


def readable(text: str) -> bool:
    """Written mostly in Latin letters."""
    return latin_share(text) >= MIN_LATIN_SHARE


def other_language(text: str) -> Optional[str]:
    """The language code of a message in Latin letters in a language the assistant does not read,
    or None (English, Spanish, Portuguese, too short or too unsure to say)."""
    words = _WORD.findall(fold(text))
    if len(words) < MIN_WORDS or not readable(text):
        return None
    english, lexicon = english_words(), lexicon_words()
    if sum(w in english or w in lexicon for w in words) >= MAX_KNOWN_SHARE * len(words):
        return None
    ranked = language_identifier().rank(text)
    # Sure it is none of the read languages (the rest of the probability may be split between
    # neighbours: Swahili and Xhosa, Bokmål and Danish).
    if sum(p for language, p in ranked if language in READ_LANGUAGES) > 1 - MIN_CONFIDENCE:
        return None
    return ranked[0][0]


@functools.lru_cache(maxsize=1)
def lexicon_words() -> FrozenSet[str]:
    from clinical.lexicon import load_lexicon

    return load_lexicon().vocabulary()


@functools.lru_cache(maxsize=1)
def language_identifier() -> "LanguageIdentifier":
    """langid.py's model, with probabilities normalised to 0-1 (loaded once, about 10 MiB)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_pickled_model(MODEL_FILE, norm_probs=True)


def load() -> None:
    """Load what other_language() reads with, ahead of the first message (the red-flag policy does,
    when the model loads), so the first patient writing French does not wait for it."""
    language_identifier()
    lexicon_words()
