"""Redaction of personal details before events are stored (privacy/redaction.py).

What each kind of detail looks like when caught, the clinical numbers and words it must leave alone,
idempotence, events, and non-interference with the finding extractor: over the development examples
and the held-out vignettes, redacting a message (with or without personal details added) never changes
what the extractor finds in it.
"""

from __future__ import annotations

import copy
import re
import tempfile
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from privacy.redaction import redact, redact_event
from tests.conftest import ROOT

# Hypothesis keeps caches in ./.hypothesis by default; the repository is no place for them.
set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "knee-assistant-hypothesis")

EXAMPLES_FILE = ROOT / "tests" / "findings" / "examples.yml"
VIGNETTES_DIR = ROOT / "tests" / "vignettes"
EMAIL_SHAPED = re.compile(r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)*\.[^\W\d_]{2,}")


def short_id(text: str) -> str:
    return text if len(text) <= 50 else text[:47] + "..."


# ---------------------------------------------------------------------------------------------------
# Each kind of personal detail
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,expected",
    [
        ("email me at john.smith@example.com please", "email me at [email] please"),
        ("jo+knee@mail.example.co.uk", "[email]"),
        ("my email is Mary_O-Neil99@Example.ORG.", "my email is [email]."),
        ("(anna.kovács@bücher.de)", "([email])"),
        ("a@b.io,c@d.com", "[email],[email]"),
    ],
)
def test_emails_are_redacted(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("call me on +44 7700 900123", "call me on [phone]"),
        ("+1 (555) 010-0100", "[phone]"),
        ("0044 7700 900123", "[phone]"),
        ("+44 (0)20 7946 0958 after 5pm", "[phone] after 5pm"),
        ("+33 1 23 45 67 89", "[phone]"),
        ("my number is 555-010-0100.", "my number is [phone]."),
        ("(555) 010 0100", "[phone]"),
        ("555.010.0100", "[phone]"),
        ("mob: 07700 900123", "mob: [phone]"),
        ("landline 020 7946 0958 or mobile 07700900123", "landline [phone] or mobile [phone]"),
        ("5550100100", "[phone]"),
        ("07700 900123 07700 900124", "[phone] [phone]"),
        ("NHS number 943 476 5919", "NHS number [phone]"),
    ],
)
def test_phone_numbers_are_redacted(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("DOB 12/03/1961", "DOB [date of birth]"),
        ("d.o.b. 1961-03-12", "d.o.b. [date of birth]"),
        ("I was born on 12 March 1961", "I was born on [date of birth]"),
        ("date of birth: March 12th, 1961", "date of birth: [date of birth]"),
        ("my birthday is the 3rd of May", "my birthday is the [date of birth]"),
        ("born in March 1961", "born in [date of birth]"),
        ("dob 12.3.61, knee pain", "dob [date of birth], knee pain"),
    ],
)
def test_dates_of_birth_are_redacted(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("surgery on 12/03/2019", "surgery on [date]"),
        ("seen 2023-11-02 in clinic", "seen [date] in clinic"),
        ("fell on 12 March 2024", "fell on [date]"),
        ("on March 12th, 2024 I fell", "on [date] I fell"),
        ("since 3rd of Sept 2023", "since [date]"),
    ],
)
def test_other_full_dates_are_redacted(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Hi my name is John Smith and my knee hurts", "Hi my name is [name] and my knee hurts"),
        ("my name is john smith i fell", "my name is [name] i fell"),
        ("My name's Sarah, I'm 45", "My name's [name], I'm 45"),
        ("my names jo", "my names [name]"),
        ("her name is Mary-Jane O'Brien", "her name is [name]"),
        ("name: Jane Doe\nage: 60", "name: [name]\nage: 60"),
        ("Surname: Kowalski", "Surname: [name]"),
        ("I'm called Bob", "I'm called [name]"),
        ("this is Dave Jones speaking, my knee is swollen", "this is [name] speaking, my knee is swollen"),
        ("please call me Sarah tomorrow", "please call me [name] tomorrow"),
        ("knee still sore. Thanks, Sarah", "knee still sore. Thanks, [name]"),
        ("many thanks\nTom Baker", "many thanks\n[name]"),
        ("my name is sue knee pain", "my name is [name] knee pain"),
        ("my name is my name is Bob", "my name is my name is [name]"),
    ],
)
def test_names_after_a_cue_are_redacted(text, expected):
    assert redact(text) == expected


# ---------------------------------------------------------------------------------------------------
# What stays: the numbers and words the triage reads
# ---------------------------------------------------------------------------------------------------
KEPT = [
    # temperatures
    "I've had a temp of 38.5 since last night",
    "it was 101.3F this morning",
    "fever 39°C",
    "39.2 c",
    "temps 38.5 38.9 39.2 39.4 40.1",
    "38,5 degrees",
    # ages
    "I'm 45",
    "I'm 67 years old",
    "she's 8",
    "my dad (72) fell",
    "45 years old, male",
    # durations, times, counts
    "for 3 weeks",
    "for 2 days",
    "about 20 mins ago",
    "at 10:30 last night",
    "can't take 4 steps",
    "I walked 10000 steps",
    "took 2 paracetamol 500mg",
    "24-48 hours",
    "10-15-20 minutes is my limit",
    # scores
    "pain 7/10",
    "8 out of 10",
    "pain is 9/10/10 today",
    "rate it 7 8 9 10",
    # years, months and dates without a year
    "since 2019",
    "I broke it in 2015, 2018 and 2021",
    "2015 2018 2021 2022",
    "born in 1961",
    "since March",
    "since March 2019",
    "on the 12th",
    "on 12/03",
    "my birthday is next week",
    "x-ray 1/2/24",
    # weights, heights, money
    "80 kg",
    "I'm 5'10 and 95kg",
    "BMI 27.5",
    "it cost £2,500",
    "£1 500 000",
    # short and local numbers
    "ward 7",
    "room 101",
    "946 0958",
    "extension 1234",
    # "I'm X" and other near-cues: never a name
    "I'm worried",
    "I'm not sure",
    "I'm Unable to walk",
    "I'm Sarah",
    "call me back",
    "call me on monday",
    "this is really painful",
    "thanks again",
    "Thanks, I will",
    "thanks",
    "what is the name of the operation",
    "the name is on the letter",
    "Thanks, Knee still sore though",
    # emails not written as emails
    "john at example dot com",
    "@clinic",
    "user@localhost",
]


@pytest.mark.parametrize("text", KEPT)
def test_clinical_numbers_and_words_are_kept(text):
    assert redact(text) == text


@pytest.mark.parametrize(
    "text",
    [
        "DOB 12/03/1961, call 07700 900123 or jo@example.com. My name is Jo Bloggs, pain 7/10 for 3 weeks",
        "Thanks, [name]",
        "my name is [name]",
        "[phone] [date] [date of birth] [email]",
        "",
        "   ",
        "07700 900123 07700",
        "1 2 3 4 5 6 7 8 9 10 11 12",
        "12/03/1961/1962",
        "a@b.c@d.ef",
    ],
)
def test_redaction_is_idempotent(text):
    once = redact(text)
    assert redact(once) == once


def test_a_message_with_every_kind_keeps_its_clinical_content():
    text = (
        "Hi, my name is Jo Bloggs, DOB 12/03/1961, mobile +44 7700 900123, email jo@example.com. "
        "I'm 63, fever 38.9 for 2 days, pain 8/10 since 2019."
    )
    assert redact(text) == (
        "Hi, my name is [name], DOB [date of birth], mobile [phone], email [email]. "
        "I'm 63, fever 38.9 for 2 days, pain 8/10 since 2019."
    )


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02\x1b[31m\u202e\ufeff\ud800\U0001f9b5",
        "\u0000@\u0000.\u0000",
        "١٢٣٤٥٦٧٨٩٠١",
        "é" * 1000 + "@" + "ü" * 1000,
        "+" * 500,
        "(" * 500 + "1" * 500,
        "my name is " * 500,
        "\n" * 10_000,
    ],
)
def test_odd_text_does_not_raise(text):
    assert isinstance(redact(text), str)


@pytest.mark.parametrize(
    "piece",
    [
        "1 ",
        "1.",
        "12 ",
        "1-",
        "(1) ",
        "+1 ",
        "07700 900123 ",
        "a@",
        "a" * 60 + "@" + "b." * 30,
        "12/03/",
        "march 12 ",
        "born 12 may ",
        "my name is ",
        "my name is Abc ",
        "call me Ab ",
        "thanks ",
        "é'",
        "b.",
    ],
    ids=repr,
)
def test_100_kb_of_repetition_is_handled(piece):
    """Inputs that make backtracking regexes explode (the whole suite's timeout would catch a hang)."""
    text = piece * (100_000 // len(piece))
    once = redact(text)
    assert redact(once) == once


# ---------------------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------------------
def user_event(text: str, entities: List[Dict[str, Any]]) -> Dict[str, Any]:
    """A UserUttered event as the tracker store gets it from `event.as_dict()`."""
    return {
        "event": "user",
        "timestamp": 1700000000.0,
        "text": text,
        "input_channel": "rest",
        "message_id": "m1",
        "metadata": {},
        "parse_data": {
            "text": text,
            "intent": {"name": "report_symptoms", "confidence": 0.93},
            "intent_ranking": [{"name": "report_symptoms", "confidence": 0.93}],
            "entities": entities,
            "findings": {
                "present": ["fever"],
                "unsure": [],
                "absent": [],
                "subject": "self",
                "mentions": [{"code": "fever", "start": 38, "end": 43, "contexts": []}],
            },
            "response_selector": {"all_retrieval_intents": []},
        },
    }


def test_a_user_event_is_redacted_in_a_copy():
    text = "my name is Jo Bloggs call 07700 900123, fever"
    event = user_event(
        text,
        [
            {"entity": "knee_part", "value": "knee", "start": 0, "end": 4},
            {"entity": "phone", "value": "07700 900123", "start": 26, "end": 38},
            {"entity": "time", "value": {"from": "2024-01-01"}, "start": 0, "end": 1},
        ],
    )
    original = copy.deepcopy(event)
    redacted = redact_event(event)
    assert event == original
    assert redacted["text"] == redacted["parse_data"]["text"] == "my name is [name] call [phone], fever"
    assert [entity["value"] for entity in redacted["parse_data"]["entities"]] == [
        "knee",
        "[phone]",
        {"from": "2024-01-01"},
    ]
    for key in ("intent", "intent_ranking", "findings", "response_selector"):
        assert redacted["parse_data"][key] == original["parse_data"][key]
    assert {k: v for k, v in redacted.items() if k not in ("text", "parse_data")} == {
        k: v for k, v in original.items() if k not in ("text", "parse_data")
    }
    redacted["parse_data"]["findings"]["present"].append("chills")
    assert event == original


@pytest.mark.parametrize(
    "event",
    [
        {"event": "bot", "timestamp": 1.0, "text": "Call 07700 900123, Jo", "data": {}, "metadata": {}},
        {"event": "action", "name": "action_listen", "policy": None, "confidence": None},
        {"event": "slot", "name": "knee_side", "value": "left"},
        {"event": "user", "text": None, "parse_data": {"intent": {"name": "greet"}, "entities": []}},
        {"event": "user", "text": "/greet"},
    ],
    ids=lambda event: event["event"],
)
def test_other_events_come_back_as_equal_copies(event):
    original = copy.deepcopy(event)
    redacted = redact_event(event)
    assert redacted == original and redacted is not event
    assert event == original


# ---------------------------------------------------------------------------------------------------
# Non-interference with the finding extractor
# ---------------------------------------------------------------------------------------------------
def read_yaml(path) -> Dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_example_texts() -> List[str]:
    return [example["text"] for example in read_yaml(EXAMPLES_FILE)["examples"]]


def load_vignette_texts() -> List[str]:
    texts: List[str] = []
    for folder in (VIGNETTES_DIR, VIGNETTES_DIR / "round2"):
        texts += [vignette["text"] for vignette in read_yaml(folder / "single_messages.yml")["vignettes"]]
        texts += [
            turn
            for conversation in read_yaml(folder / "conversations.yml")["conversations"]
            for turn in conversation["turns"]
        ]
    return list(dict.fromkeys(texts))  # "yes", "no", "hi" come back many times


EXAMPLE_TEXTS = load_example_texts()
VIGNETTE_TEXTS = load_vignette_texts()
# Personal details written around a message the way patients do.
WITH_DETAILS = [
    "Hi, my name is John Smith. {}",
    "{} My number is 07700 900123, email jo.bloggs@example.com",
    "DOB 12/03/1961. {} Thanks, Sarah",
    "{}\ncall me on +44 7700 900123",
    "name: Mary O'Brien, born 3rd May 1958\n{}",
]


@pytest.fixture(scope="module")
def extractor():
    from clinical.findings import FindingReader
    from tests.test_finding_extractor import spacy_model_path

    return FindingReader.from_model(spacy_model_path())


def finding_record(extractor, text: str) -> Dict[str, Any]:
    """What the triage reads of a message: each finding's status, and whom they are about."""
    extraction = extractor.extract(text)
    return {"statuses": extraction.statuses, "subject": extraction.subject}


@pytest.mark.parametrize("text", EXAMPLE_TEXTS, ids=[short_id(text) for text in EXAMPLE_TEXTS])
def test_finding_examples_have_nothing_to_redact(text):
    assert redact(text) == text


@pytest.mark.parametrize("text", VIGNETTE_TEXTS, ids=[short_id(text) for text in VIGNETTE_TEXTS])
def test_vignettes_have_nothing_to_redact(text):
    # The vignettes hold no personal details but many clinical numbers and dates ("tore my ACL in 2019",
    # "I'm 62", "for three days"): redaction leaves every one whole. (That redacting details added
    # around them keeps their findings is the next test.)
    assert redact(text) == text


@pytest.mark.parametrize("texts", [EXAMPLE_TEXTS, VIGNETTE_TEXTS], ids=["examples", "vignettes"])
def test_redacting_personal_details_around_a_message_keeps_its_findings(extractor, texts):
    changed = []
    for index, text in enumerate(texts):
        message = WITH_DETAILS[index % len(WITH_DETAILS)].format(text)
        redacted = redact(message)
        assert redacted != message and redact(text) in redacted
        if finding_record(extractor, redacted) != finding_record(extractor, message):
            changed.append(message)
    assert changed == []


# ---------------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------------
PROPERTY = settings(max_examples=300, deadline=None)
LETTERS_AND_DIGITS = st.characters(categories=["Ll", "Lu", "Nd"])
EMAILS = st.builds(
    "{}@{}.{}".format,
    st.text(LETTERS_AND_DIGITS, min_size=1, max_size=20),
    st.lists(st.text(LETTERS_AND_DIGITS, min_size=1, max_size=12), min_size=1, max_size=4).map(".".join),
    st.text(st.characters(categories=["Ll", "Lu"]), min_size=2, max_size=10),
)


def fill_in(layout: str, digits: List[int]) -> str:
    """The layout with each # replaced by the next digit."""
    next_digit = iter(digits)
    return re.sub("#", lambda _: str(next(next_digit)), layout)


PHONES = st.builds(
    fill_in,
    st.sampled_from(
        [
            "+44 7### ######",
            "0#### ######",
            "(###) ###-####",
            "###-###-####",
            "+1 (###) ###-####",
            "0## #### ####",
            "00## #### ######",
            "0##########",
        ]
    ),
    st.lists(st.integers(0, 9), min_size=15, max_size=15),
)


@PROPERTY
@given(st.text(max_size=300))
def test_any_text_is_redacted_idempotently(text):
    once = redact(text)
    assert redact(once) == once


@PROPERTY
@given(st.text(max_size=60), EMAILS, st.text(max_size=60))
def test_no_email_survives(before, email, after):
    redacted = redact(f"{before} {email} {after}")
    assert not EMAIL_SHAPED.search(redacted)
    assert redact(redacted) == redacted


@PROPERTY
@given(st.sampled_from(["call me on {}", "{}", "mob {}, pain 7/10", "I'm 45. tel: {} thanks"]), PHONES)
def test_no_phone_digit_survives(template, phone):
    redacted = redact(template.format(phone))
    assert redacted == template.format("[phone]")
