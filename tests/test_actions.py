"""Custom actions: the messages they send and the events they return."""

from __future__ import annotations

import pytest
from rasa_sdk.events import UserUtteranceReverted

from actions.answers import ActionAnswerFromArticles
from actions.fallback import ActionAskToClarify, ActionDefaultFallback
from clinical.articles import load_library
from tests.conftest import make_tracker, user_event

TOPICS = sorted(load_library().topics.values(), key=lambda topic: topic.intent)
NEXT_STEPS = ["/start_self_check", "/book_consultation", "/ask_capabilities"]


def payloads(message):
    return [button["payload"] for button in message["buttons"]]


@pytest.mark.parametrize("topic", TOPICS, ids=lambda topic: topic.intent)
def test_answer_from_articles_sends_answer_source_disclaimer_and_next_steps(topic, domain, dispatcher):
    tracker = make_tracker(domain, text="a question", intent=topic.intent)

    events = ActionAnswerFromArticles().run(dispatcher, tracker, domain)

    assert events == []
    (message,) = dispatcher.messages
    text = message["text"]
    assert text.startswith(topic.answer)
    for source in topic.sources:
        assert source.article.title in text
    assert "General information only, not a diagnosis or medical advice" in text
    assert "+1 (555) 010-0100" in text  # the clinic's phone, filled in from the domain slot
    assert "{" not in text, "a placeholder was left unfilled"
    assert ("investigational" in text) == topic.about_msc
    assert payloads(message) == NEXT_STEPS
    assert "911" not in text


def test_an_answer_in_the_middle_of_the_self_check_has_no_other_buttons(domain, dispatcher):
    tracker = make_tracker(domain, text="cost?", intent="ask_msc_cost", active_loop="self_check_form")
    ActionAnswerFromArticles().run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["buttons"] == []


def test_answer_action_given_a_non_topic_intent_answers_with_the_scope_response(domain, dispatcher):
    tracker = make_tracker(domain, text="hello", intent="greet")
    assert ActionAnswerFromArticles().run(dispatcher, tracker, domain) == []
    assert dispatcher.messages[0]["response"] == "utter_out_of_scope"


def test_clarification_names_the_best_guess_in_plain_words(domain, dispatcher):
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "out_of_scope", "confidence": 0.3},
        {"name": "ask_msc_cost", "confidence": 0.2},
    ]
    tracker = make_tracker(domain, text="hw mch r them", intent="nlu_fallback", ranking=ranking)

    events = ActionAskToClarify().run(dispatcher, tracker, domain)

    assert events == []
    (message,) = dispatcher.messages
    assert "Cost of stem cell therapy" in message["text"]
    assert "ask_msc_cost" not in message["text"]
    assert payloads(message) == ["/ask_msc_cost", "/deny"]


def test_clarification_never_offers_small_talk_and_without_a_guess_asks_to_rephrase(domain, dispatcher):
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.5},
        {"name": "deny", "confidence": 0.4},
        {"name": "thank", "confidence": 0.3},
        {"name": "out_of_scope", "confidence": 0.2},
    ]
    tracker = make_tracker(domain, text="???", intent="nlu_fallback", ranking=ranking)
    ActionAskToClarify().run(dispatcher, tracker, domain)
    assert [message["response"] for message in dispatcher.messages] == ["utter_ask_rephrase"]


def test_fallback_answers_from_a_relevant_passage_naming_its_source(domain, dispatcher):
    tracker = make_tracker(domain, text="how much do the injections cost", intent="nlu_fallback")

    events = ActionDefaultFallback().run(dispatcher, tracker, domain)

    assert events == [UserUtteranceReverted()]
    (message,) = dispatcher.messages
    assert "Cost of stem cell therapy" in message["text"]
    assert "Does Stem Cell Therapy Cure Knee Pain?" in message["text"]
    assert payloads(message) == NEXT_STEPS


def test_fallback_never_answers_an_earlier_question(domain, dispatcher):
    earlier = user_event("how much do the injections cost", "nlu_fallback")
    tracker = make_tracker(domain, text="/deny", intent="deny", history=[earlier])
    ActionDefaultFallback().run(dispatcher, tracker, domain)
    assert [message["response"] for message in dispatcher.messages] == ["utter_out_of_scope"]


@pytest.mark.parametrize(
    "text,entities",
    [
        ("what is the weather like in paris tomorrow", []),
        ("stem cell injections for my shoulder", [{"entity": "other_body_part", "value": "shoulder"}]),
        ("max dose of aleve", [{"entity": "medicine", "value": "aleve"}]),
        ("", []),
    ],
)
def test_fallback_gives_the_honest_scope_answer_otherwise(text, entities, domain, dispatcher):
    tracker = make_tracker(domain, text=text, intent="nlu_fallback", entities=entities)

    events = ActionDefaultFallback().run(dispatcher, tracker, domain)

    assert events == [UserUtteranceReverted()]
    assert [message["response"] for message in dispatcher.messages] == ["utter_out_of_scope"]


# --- the topic resolver's decisions (components/topic_resolver.py) ----------------------------
def test_a_second_question_in_the_message_is_answered_too(domain, dispatcher):
    choice = {"action": "answer", "topics": ["ask_msc_safety", "ask_msc_cost"], "reason": "test"}
    tracker = make_tracker(
        domain, text="is it safe and what does it cost?", intent="ask_msc_safety", topic_choice=choice
    )
    ActionAnswerFromArticles().run(dispatcher, tracker, domain)
    first, second = dispatcher.messages
    library = load_library()
    assert first["text"].startswith(library.topics["ask_msc_safety"].answer)
    assert first["buttons"] == []
    assert second["text"].startswith("You also asked about \u201cCost of stem cell therapy\u201d")
    assert library.topics["ask_msc_cost"].answer in second["text"]
    assert payloads(second) == NEXT_STEPS


def test_a_described_symptom_gets_the_answer_and_the_self_check_offered(domain, dispatcher):
    tracker = make_tracker(
        domain,
        text="stiff every morning and it grinds, is that arthritis?",
        intent="ask_oa_symptoms",
        findings={"present": ["stiffness", "grating"]},
    )
    ActionAnswerFromArticles().run(dispatcher, tracker, domain)
    answer, offer = dispatcher.messages
    assert answer["text"].startswith(load_library().topics["ask_oa_symptoms"].answer)
    assert answer["buttons"] == []
    assert offer["response"] == "utter_offer_self_check_for_symptoms"


def test_which_side_hurts_alone_is_not_a_symptom_to_offer_the_self_check_for(domain, dispatcher):
    tracker = make_tracker(
        domain,
        text="my right knee: what is osteoarthritis?",
        intent="ask_oa_definition",
        findings={"present": ["side_right"]},
    )
    ActionAnswerFromArticles().run(dispatcher, tracker, domain)
    (answer,) = dispatcher.messages
    assert payloads(answer) == NEXT_STEPS


def test_clarification_offers_the_likeliest_topics_as_buttons_in_one_turn(domain, dispatcher):
    choice = {"action": "offer", "topics": ["ask_msc_effectiveness", "ask_msc_research", "ask_msc_cure"]}
    tracker = make_tracker(domain, text="results any good?", intent="nlu_fallback", topic_choice=choice)
    ActionAskToClarify().run(dispatcher, tracker, domain)
    (message,) = dispatcher.messages
    assert "Which of these" in message["text"]
    labels = load_library().topics
    assert [button["title"] for button in message["buttons"]] == [
        labels["ask_msc_effectiveness"].label,
        labels["ask_msc_research"].label,
        labels["ask_msc_cure"].label,
        "Something else",
    ]
    assert payloads(message) == ["/ask_msc_effectiveness", "/ask_msc_research", "/ask_msc_cure", "/deny"]


def test_clarification_for_a_described_symptom_offers_the_self_check_and_the_topics_never_a_guess(domain, dispatcher):
    choice = {"action": "offer", "topics": ["ask_oa_symptoms", "ask_knee_pain_causes"]}
    tracker = make_tracker(
        domain,
        text="my knee hurts when I climb stairs, I'm 62",
        intent="nlu_fallback",
        topic_choice=choice,
        findings={"present": ["knee_pain", "age_55_plus"]},
    )
    ActionAskToClarify().run(dispatcher, tracker, domain)
    offer, topics = dispatcher.messages
    assert offer["response"] == "utter_offer_self_check_for_symptoms"
    assert payloads(topics) == ["/ask_oa_symptoms", "/ask_knee_pain_causes"]
    assert not any(topic.answer in (message.get("text") or "") for message in dispatcher.messages for topic in TOPICS)


def test_clarification_for_a_described_symptom_shows_a_topic_both_signals_rank_high_as_a_guess(domain, dispatcher):
    choice = {"action": "offer", "topics": ["ask_oa_symptoms", "ask_knee_pain_causes"], "likely": "ask_oa_symptoms"}
    tracker = make_tracker(
        domain,
        text="stiff every morning and it grinds on the stairs",
        intent="nlu_fallback",
        topic_choice=choice,
        findings={"present": ["stiffness", "grating"]},
    )
    ActionAskToClarify().run(dispatcher, tracker, domain)
    answer, offer = dispatcher.messages
    assert answer["text"].startswith(
        "This part of the clinic's articles may help (\u201cSymptoms of knee osteoarthritis"
    )
    assert load_library().topics["ask_oa_symptoms"].answer in answer["text"]
    assert offer["response"] == "utter_offer_self_check_for_symptoms"


def test_no_self_check_offer_after_an_emergency_reply(domain, dispatcher):
    tracker = make_tracker(
        domain,
        text="still swollen, what is osteoarthritis?",
        intent="ask_oa_definition",
        findings={"present": ["swelling"]},
        slots={"triage_result": {"level": "emergency"}},
    )
    ActionAnswerFromArticles().run(dispatcher, tracker, domain)
    (answer,) = dispatcher.messages
    assert answer["text"].startswith(load_library().topics["ask_oa_definition"].answer)
    assert payloads(answer) == NEXT_STEPS  # no offer, so the answer keeps the next steps


def test_during_the_self_check_one_topic_is_answered_and_no_offer(domain, dispatcher):
    choice = {"action": "answer", "topics": ["ask_msc_safety", "ask_msc_cost"], "reason": "test"}
    tracker = make_tracker(
        domain,
        text="is it safe and what does it cost?",
        intent="ask_msc_safety",
        topic_choice=choice,
        findings={"present": ["stiffness"]},
        active_loop="self_check_form",
    )
    ActionAnswerFromArticles().run(dispatcher, tracker, domain)
    (answer,) = dispatcher.messages
    assert answer["buttons"] == []


def test_a_topic_from_agreement_is_never_answered_as_an_aside_in_the_self_check(domain, dispatcher):
    from actions.answers import topic_from_agreement
    from clinical.topic_choice import AGREED

    assert topic_from_agreement({"topic_choice": {"action": "answer", "topics": ["ask_oa_symptoms"], "reason": AGREED}})
    assert not topic_from_agreement(
        {"topic_choice": {"action": "answer", "topics": ["ask_oa_symptoms"], "reason": "the classifier is sure"}}
    )
    assert not topic_from_agreement({})


def test_a_resolver_record_without_topics_is_harmless(domain, dispatcher):
    tracker = make_tracker(
        domain, text="cost?", intent="ask_msc_cost", topic_choice={"action": "answer", "topics": None}
    )
    ActionAnswerFromArticles().run(dispatcher, tracker, domain)
    assert len(dispatcher.messages) == 1
