"""The scope rules (clinical/scope.py), on entities from the real spaCy pipeline."""

import pytest

from clinical.scope import REPLACEMENT_PRICE_REASON, UNANSWERED_REASON, needs_clarification, out_of_scope_reason


def ents(*labels):
    return [{"entity": label} for label in labels]


@pytest.mark.parametrize(
    "text,labels,reason",
    [
        ("max dose of aleve", ["medicine"], "names a medicine or a dose"),
        ("chemo side effects", ["other_condition"], "is about a condition the articles do not cover"),
        ("is PRP better", ["other_treatment"], "is about a treatment the articles do not cover"),
        ("stem cells for my shoulder", ["treatment", "other_body_part"], "is about another part of the body"),
        ("does my insurance cover x-rays", ["test_or_advice"], "is about a test or advice the articles do not cover"),
        ("what should i eat", ["test_or_advice"], "is about a test or advice the articles do not cover"),
        ("🙈🙈", [], "has no words"),
        ("   ", [], "has no words"),
        # a medicine question stays out of scope even when the knee is named
        ("can I take ibuprofen for my knee", ["medicine", "knee_part"], "names a medicine or a dose"),
        # questions the articles never answer, whatever they name
        ("will medicaid pay for the stem cells", ["unanswered_question", "treatment"], UNANSWERED_REASON),
        ("how long would the benefit last? A year?", ["treatment"], UNANSWERED_REASON),
        ("how many years does a stem cell knee last", ["treatment", "knee_part"], UNANSWERED_REASON),
        ("how long till i can play again after the injection", ["treatment"], UNANSWERED_REASON),
        ("is there an age limit for stem cell treatment", ["unanswered_question", "treatment"], UNANSWERED_REASON),
        ("is it safe while I'm on HRT", ["medicine"], "names a medicine or a dose"),
        ("how much is a new knee if i go private", ["knee_part"], REPLACEMENT_PRICE_REASON),
        ("And the knee replacement surgery, how much cost exactly?", ["treatment"], REPLACEMENT_PRICE_REASON),
        ("how much is a knee replacment if i go private? the actual price", ["knee_part"], REPLACEMENT_PRICE_REASON),
        ("whats the cost of a replacemnt", [], REPLACEMENT_PRICE_REASON),
        (
            "can stem cells help my diabetes",
            ["treatment", "comorbidity"],
            "is about a condition the articles do not cover",
        ),
        # any other condition stays out of scope even in the knee
        (
            "I have a tumour in my knee, can stem cells treat it?",
            ["other_condition", "knee_part", "treatment"],
            "is about a condition the articles do not cover",
        ),
        ("can stem cells fix my kidney", ["treatment", "other_body_part"], "is about another part of the body"),
        (
            "chemo side effects and my knee",
            ["other_condition", "knee_part"],
            "is about a condition the articles do not cover",
        ),
    ],
)
def test_out_of_scope(text, labels, reason):
    assert out_of_scope_reason(text, ents(*labels)) == reason


@pytest.mark.parametrize(
    "text,labels",
    [
        ("my knee and my hip both ache", ["knee_part", "other_body_part"]),
        ("how much do stem cells cost", ["treatment"]),
        ("what is gout", ["condition"]),
        ("my x-ray shows wear and tear, what is osteoarthritis", ["test_or_advice", "condition"]),
        ("are the cells taken from the hip bone", ["cell_source"]),
        ("¿qué es la artrosis?", []),  # words, if not English: left to the classifier and fallback
        # another condition as context for a knee question
        ("I'm diabetic and the surgeon won't operate on my knee, why", ["comorbidity", "knee_part"]),
        ("why is OA so hard to treat? can a diabetic even get surgery", ["condition", "comorbidity"]),
        ("stem cells n renal function?? kidneys?? wat does it say", ["treatment", "renal", "other_body_part"]),
        # durations and prices the articles do give, or a question that is not about them
        ("how long does OA take to develop after an injury", ["condition"]),
        ("how long has stem cell therapy been around, and is it safe after 60", ["treatment"]),
        ("after my knee replacement I feel a grinding, what is it?", ["treatment"]),
        ("how much pain is normal after a knee replacement?", ["treatment"]),
        ("how long does the procedure take", ["article_term"]),  # a duration the question is not about
        ("is stem cell therapy cheaper than a knee replacement", ["treatment"]),
        ("is a new knee dear", ["knee_part"]),  # the articles say knee replacement is expensive
    ],
)
def test_in_scope_or_undecided(text, labels):
    assert out_of_scope_reason(text, ents(*labels)) is None


@pytest.mark.parametrize(
    "is_topic,confidence,labels,expected",
    [
        (True, 0.85, [], True),  # no article subject named, not sure enough: ask
        (True, 0.95, [], False),  # very sure: answer ("cost?")
        (True, 0.70, ["treatment"], False),  # the message names stem cells: the usual threshold applies
        (False, 0.50, [], False),  # not an article topic: nothing to guard
    ],
)
def test_needs_clarification(is_topic, confidence, labels, expected):
    assert needs_clarification(is_topic, confidence, ents(*labels)) is expected
