"""Can the assistant read this message at all? Pure Python.

The assistant reads English, and the red-flag lexicons know some Spanish and Portuguese. A message
written mostly in another script (Chinese, Korean, Arabic, Cyrillic, Devanagari...) cannot be read
for red flags, so it gets an honest notice that names the emergency number (domain/service.yml)
instead of a guess.
"""
from __future__ import annotations

import unicodedata

# Below this share of Latin letters a message is not read (a few English words inside a Chinese
# message do not make it readable).
MIN_LATIN_SHARE = 0.5


# One Chinese character or Korean syllable carries about as much as a short word: it weighs as
# much as three Latin letters.
SYLLABIC_WEIGHT = 3
SYLLABIC = ("CJK", "HANGUL", "HIRAGANA", "KATAKANA")


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
    return latin_share(text) >= MIN_LATIN_SHARE
