"""Redaction of personal details from patients' messages before their events are stored.

The tracker store (stores/tracker_store.py) passes every event through `redact_event`, so the clinic
keeps what a patient said about their knee but not who they are or how to reach them. Findings are
extracted from the original text before storage and kept in `parse_data.findings`, so redaction never
changes a triage; still, nothing a finding is made of may be redacted (tests/test_redaction.py checks
this over the finding examples and the held-out vignettes).

Caught, and replaced by a placeholder:
  * [email]: name@domain.tld, with dots, plus-tags, subdomains and non-ASCII letters.
  * [phone]: 10 to 15 digits written as one number: international (+44 7700 900123, 0044 ...,
    +1 (555) 010-0100, +44 (0)20 ...), national with spaces, dashes, dots or brackets (555-010-0100,
    (555) 010 0100, 07700 900123, 020 7946 0958) or one plain run. Other 10-15 digit identifiers
    (an NHS number) come out as [phone] too, which is what the clinic wants.
  * [date of birth]: a full date within 40 characters after born / birth / birthday / bday / DOB /
    d.o.b.; after such a cue (anywhere earlier in the message) a day and month, a month and year or
    a 2-digit year is enough ("born 3rd May", "DOB: May 1961", "d.o.b. 12/3/61").
  * [date]: any other full calendar date with a 4-digit year: 12/03/1961, 12.3.1961, 1961-03-12,
    12 March 1961, 12th of Mar 1961, March 12th, 1961.
  * [name]: up to 3 words, stopping at punctuation and at function words (and, but, I, my, with...),
    after "my/his/her/their name is", "my name's", "name:", "surname:", "I'm called", "he/she is
    called" and in "this is X speaking": all of them when written in lower case ("my name is john
    smith"), else the Capitalised ones ("My name is Jo Bloggs call me"). Only Capitalised words after
    "call me" ("call me back") and in a closing "Thanks, X" that ends the message.

Not caught, on purpose:
  * "I'm X" / "I am X": it introduces symptoms far more often than names ("I'm unable to walk",
    "I'm Worried"), and a stoplist cannot list every symptom word. Names said that way are kept.
  * Dates with a 2-digit year and no birth cue ("x-ray 1/2/24"): "pain 9/10/10" looks the same.
  * Numbers of fewer than 10 digits (local numbers without area code, scores, ages, temperatures,
    weights, durations), bare years ("since 2019", "born in 1961": a year of birth is an age, which
    the triage reads) and a month alone or with a year but no birth cue ("since March 2019").
  * Runs of more than 15 digits (card numbers), spelled-out addresses ("john at gmail dot com"),
    numbers spelled in words, postal addresses, names without a cue.
  * A phone number written right after another number joins it: "I'm 45 07700 900123" loses the 45;
    one glued to a "." or "," ("tel.07700900123") is kept, so decimals never start one.

Matching stays linear in the length of a message: repetitions are bounded, or repeat pieces that can
only be cut one way (a digit group is a whole run of digits). `redact` is idempotent: placeholders hold
no digits, no @ and no word a name can start with.
"""

from __future__ import annotations

import copy
import itertools
import re
from typing import Any, Dict, List, Match, Pattern

EMAIL = re.compile(r"[\w.%+\-]{1,64}@[\w\-]{1,63}(?:\.[\w\-]{1,63}){0,8}\.[^\W\d_]{2,24}")

# --- dates --------------------------------------------------------------------------------------
# Redacting twice must change nothing, so no pattern may match only once a neighbour has become a
# placeholder: a written date may not follow a letter, a digit or "]" (what a redacted neighbour
# ends with), nor ".", "/" or "-" (which a numeric date may not be followed by, as in "1.5.2024"),
# and a numeric date no digit (a digit before it is part of the same run of digits, which a phone
# number takes whole).
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_ORDINAL_DAY = rf"{_DAY}(?:st|nd|rd|th)?"
_MONTH_NUMBER = r"(?:0?[1-9]|1[0-2])"
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)(?![^\W\d_])\.?"
)
_YEAR = r"(?:1[89]|20)\d\d"
_SEP = r"[ \t,.\-/]{1,3}"
_OF = r"(?:of[ \t]{1,3})?"
_WRITTEN = r"(?<![\w\]./\-])"
_NUMERIC, _END_NUMERIC = r"(?<![\d/.\-])", r"(?![\d/\-]|\.\d)"
FULL_DATE = re.compile(
    rf"""{_NUMERIC}(?:{_DAY}([/.\-]){_DAY}\1{_YEAR}|{_YEAR}([/.\-]){_MONTH_NUMBER}\2{_DAY}){_END_NUMERIC}
       |{_WRITTEN}(?:{_ORDINAL_DAY}{_SEP}{_OF}{_MONTH}{_SEP}{_YEAR}
                   |{_MONTH}{_SEP}{_ORDINAL_DAY}{_SEP}{_YEAR})\b""",
    re.IGNORECASE | re.VERBOSE,
)
# Dates only after a birth cue. Without one, a day and month is an appointment or an onset ("since
# 3 May"), and a 2-digit year is as likely a score or a range ("9/10/10", "10-15-20 minutes").
PARTIAL_DATE = re.compile(
    rf"""{_NUMERIC}{_DAY}([/.\-]){_DAY}\1\d\d{_END_NUMERIC}
       |{_WRITTEN}(?:{_ORDINAL_DAY}{_SEP}{_OF}{_MONTH}|{_MONTH}{_SEP}(?:{_YEAR}|{_ORDINAL_DAY})\b)""",
    re.IGNORECASE | re.VERBOSE,
)
BIRTH_CUE = re.compile(r"(?<![^\W\d_])(?:born|birth|b['’]?day|d\.?o\.?b(?![^\W\d_]))", re.IGNORECASE)
BIRTH_CUE_REACH = 40  # characters before a full date: "my date of birth is the 3rd of May 1961"


def _redact_dates(text: str) -> str:
    def full_date(match: Match[str]) -> str:
        start = match.start()
        near_cue = BIRTH_CUE.search(match.string, max(0, start - BIRTH_CUE_REACH), start)
        return "[date of birth]" if near_cue else "[date]"

    def partial_date(match: Match[str]) -> str:
        return "[date of birth]" if cue_end <= match.start() else match.group()

    text = FULL_DATE.sub(full_date, text)
    # Any cue earlier in the message counts, not only a near one: distances change as other
    # details are redacted, and whether a partial date is redacted must not.
    first_cue = BIRTH_CUE.search(text)
    cue_end = first_cue.end() if first_cue else len(text) + 1
    return PARTIAL_DATE.sub(partial_date, text)


# --- phone numbers ------------------------------------------------------------------------------
# Digit groups are whole runs of digits ((?!\d)), so the regex never has two ways to split a run.
# A number never starts after "." or "," and "." only separates before 3 digits: "38.5" and "38,5"
# stay whole, at the price of "tel.07700900123".
_GROUP = r"(?:\+[ \t]?)?(?:\([ \t]?\d{1,5}[ \t]?\)|\d{1,15}(?!\d))"
PHONE_CANDIDATE = re.compile(rf"(?<![\d+.,]){_GROUP}(?:(?:[ \t\-–]{{1,2}}|\.(?=\d{{3}}))?{_GROUP})*")
PHONE_GROUP = re.compile(_GROUP)
YEAR = re.compile(_YEAR)
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 10, 15


def _longest_phone(digit_groups: List[str]) -> int:
    """How many of the leading groups make the longest phone number (0: none)."""
    longest = digits = single_digit_groups = 0
    all_years = True
    for count, group in enumerate(digit_groups, 1):
        digits += len(group)
        single_digit_groups += len(group) == 1
        all_years = all_years and bool(YEAR.fullmatch(group))
        if digits > MAX_PHONE_DIGITS:
            break
        # at most one 1-digit group ("+1", "(0)"): lists of scores have many; "2015 2018 2021" is years
        if digits >= MIN_PHONE_DIGITS and single_digit_groups <= 1 and not all_years:
            longest = count
    return longest


def _redact_phones(match: Match[str]) -> str:
    """The longest phone number from each group of the candidate on: one candidate can hold two
    numbers ("07700 900123 07700 900124") or a number after an unrelated one."""
    candidate = match.group()
    groups = list(PHONE_GROUP.finditer(candidate))
    digit_groups = ["".join(filter(str.isdigit, group.group())) for group in groups]
    pieces, copied, start = [], 0, 0
    while start < len(groups):
        length = _longest_phone(digit_groups[start : start + MAX_PHONE_DIGITS])
        if length:
            end = start + length
            pieces += [candidate[copied : groups[start].start()], "[phone]"]
            copied = groups[end - 1].end()
        start += length or 1
    return "".join(pieces) + candidate[copied:]


# --- names --------------------------------------------------------------------------------------
# Words that end a name: what follows "my name is John" in patients' messages, and greetings and
# thanks that a closing "Thanks, X" may hold instead of a name.
NAME_STOPWORDS = {
    "a",
    "also",
    "am",
    "an",
    "and",
    "are",
    "as",
    "at",
    "because",
    "been",
    "but",
    "by",
    "for",
    "from",
    "got",
    "had",
    "has",
    "have",
    "he",
    "her",
    "here",
    "hi",
    "his",
    "i",
    "i'm",
    "i’m",
    "im",
    "in",
    "is",
    "it",
    "it's",
    "it’s",
    "its",
    "just",
    "me",
    "my",
    "not",
    "of",
    "on",
    "or",
    "she",
    "so",
    "speaking",
    "the",
    "their",
    "they",
    "this",
    "to",
    "was",
    "we",
    "were",
    "with",
    "you",
    "your",
    # the knee words a name is most often followed by without punctuation: "my name is sue knee pain"
    "knee",
    "knees",
    "leg",
    "legs",
    "pain",
    "hurts",
    "swollen",
    # closings: "Thanks again", "Thanks very much", "cheers all", "thanks, bye"
    "again",
    "advance",
    "all",
    "bye",
    "everyone",
    "lot",
    "lots",
    "much",
    "very",
}
_STOP = "|".join(sorted(map(re.escape, NAME_STOPWORDS), key=len, reverse=True))
_WORD = rf"(?!(?:{_STOP})(?![\w'’\-]))[^\W\d_]{{1,30}}(?:['’\-][^\W\d_]{{1,30}}){{0,2}}(?![\w'’\-])"
_NAME = rf"(?P<name>{_WORD}(?:[ \t]{{1,3}}{_WORD}){{0,2}})"
# The cues read the name in a lookahead: a match ends before the name, so the words after a name
# ("call me Ab call me Cd") stay free to hold the next cue.
# Always followed by a name: lower case too, "my name is john smith", "this is dave speaking".
NAME_CUE = re.compile(
    rf"""\b(?:(?:my|his|her|their)\s{{1,3}}(?:name\s{{1,3}}is|name['’]s|names)[ \t,:\-]{{1,3}}
          |(?:sur|first\s|full\s|last\s)?name\s{{0,3}}[:=][ \t]{{0,3}}
          |(?:i\s{{1,3}}am|i['’]?m|(?:he|she)\s{{1,3}}is)\s{{1,3}}called[ \t,:]{{1,3}}
          |(?P<speaker>this\s{{1,3}}is\s{{1,3}}))
       (?={_NAME}(?(speaker)\s{{1,3}}speaking\b))""",
    re.IGNORECASE | re.VERBOSE,
)
# Followed by a name or by anything else ("call me back", "thanks again"): Capitalised words only.
CAPITALISED_NAME_CUE = re.compile(
    rf"""\b(?:call\s{{1,3}}me\s{{1,3}}
          |(?P<sign_off>(?:many\s{{1,3}}thanks|thanks|thank\s{{1,3}}you|cheers|regards|best\s{{1,3}}wishes)
                        [ \t]{{0,3}}[,!.\-–]?\s{{1,3}}))
       (?={_NAME}(?(sign_off)[ \t]{{0,3}}[.!]?\s{{0,20}}\Z))""",
    re.IGNORECASE | re.VERBOSE,
)


def _redact_names(text: str, cue: Pattern[str], capitalised_only: bool) -> str:
    pieces, copied = [], 0
    for match in cue.finditer(text):
        if match.start("name") < copied:
            continue
        words = list(re.finditer(r"\S+", match.group("name")))
        # A writer who capitalises a name's first word capitalises all of it: "Jo Bloggs call me".
        if capitalised_only or words[0].group()[0].isupper():
            words = list(itertools.takewhile(lambda word: word.group()[0].isupper(), words))
        if words:
            pieces += [text[copied : match.start("name")], "[name]"]
            copied = match.start("name") + words[-1].end()
    return "".join(pieces) + text[copied:]


def redact(text: str) -> str:
    """`text` with emails, phone numbers, dates and names replaced by placeholders."""
    text = EMAIL.sub("[email]", text)
    text = _redact_dates(text)
    text = PHONE_CANDIDATE.sub(_redact_phones, text)
    text = _redact_names(text, NAME_CUE, capitalised_only=False)
    return _redact_names(text, CAPITALISED_NAME_CUE, capitalised_only=True)


def redact_event(event: Dict[str, Any]) -> Dict[str, Any]:
    """A copy of a stored event (`Event.as_dict()`), a patient's message redacted. The findings and
    intent stay as they are: they hold codes and character offsets, no words of the message."""
    event = copy.deepcopy(event)
    if event.get("event") != "user":
        return event
    if isinstance(event.get("text"), str):
        event["text"] = redact(event["text"])
    parse_data = event.get("parse_data")
    if isinstance(parse_data, dict):
        if isinstance(parse_data.get("text"), str):
            parse_data["text"] = redact(parse_data["text"])
        for entity in parse_data.get("entities") or []:
            if isinstance(entity, dict) and isinstance(entity.get("value"), str):
                entity["value"] = redact(entity["value"])
    return event
