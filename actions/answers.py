"""action_answer_from_articles: answers every article-topic intent from the content records.

Besides the topic of the intent it answers a second topic that another question in the same message
asked ("is it safe and what does it cost?"), as the topic resolver recorded it (components/
topic_resolver.py), and offers the self-check to a patient who described a symptom.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from clinical.articles import Topic, compose_answer, load_library
from clinical.self_check import FINDINGS_KEY, RESULT_SLOT
from clinical.topic_choice import AGREED, CHOICE_KEY, describes_symptoms
from clinical.triage import Level

from . import clinic


def in_self_check(tracker: Tracker) -> bool:
    return bool((tracker.active_loop or {}).get("name"))


def topic_from_agreement(message: Dict[str, Any]) -> bool:
    """Whether the message's topic came from the classifier and the search agreeing, rather than from
    a sure classifier (during the self-check such a guess is not answered: the message was most
    likely an answer to the form's question)."""
    return (message.get(CHOICE_KEY) or {}).get("reason") == AGREED


def send_topic_answer(
    topic: Topic,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    domain: Dict[Text, Any],
    lead_in: Optional[str] = None,
    with_buttons: bool = True,
) -> None:
    """Send one topic's answer with its source, the disclaimer and the next-step buttons."""
    text = compose_answer(
        topic,
        investigational_notice=clinic.response_text(domain, "utter_msc_investigational", tracker),
        disclaimer=clinic.response_text(domain, "utter_disclaimer", tracker),
    )
    if lead_in:
        text = f"{lead_in}\n\n{text}"
    # In the middle of the self-check the form asks its question again next, so no other buttons.
    buttons = clinic.response_buttons(domain, "utter_next_steps") if with_buttons and not in_self_check(tracker) else []
    dispatcher.utter_message(text=text, buttons=buttons)


def topics_asked(message: Dict[str, Any], intent: Optional[str], in_self_check: bool = False) -> List[Topic]:
    """The topic of the intent, then a second one the message asked about (at most two; one during
    the self-check, whose next question follows)."""
    library = load_library()
    found = [topic for topic in (library.topic_for_intent(intent),) if topic is not None]
    choice = message.get(CHOICE_KEY) or {}
    if choice.get("action") == "answer" and not in_self_check:
        for name in (choice.get("topics") or [])[1:]:
            topic = library.topic_for_intent(name)
            if topic is not None and topic not in found:
                found.append(topic)
    return found[:2]


def self_check_offer_due(message: Dict[str, Any], tracker: Tracker) -> bool:
    """Whether a patient who told us how their knee is now should be offered the self-check (and
    booking): not during the self-check itself, and not after an emergency reply (whose advice stands)."""
    if in_self_check(tracker) or not describes_symptoms(message.get(FINDINGS_KEY)):
        return False
    return (tracker.get_slot(RESULT_SLOT) or {}).get("level") != Level.EMERGENCY.code


class ActionAnswerFromArticles(Action):
    def name(self) -> Text:
        return "action_answer_from_articles"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        message = tracker.latest_message or {}
        intent = (message.get("intent") or {}).get("name")
        topics = topics_asked(message, intent, in_self_check=in_self_check(tracker))
        if not topics:
            # Only reachable if a rule sends a non-topic intent here; say so honestly.
            dispatcher.utter_message(response="utter_out_of_scope")
            return []
        # the self-check offer carries the next-step buttons when it comes, the last answer otherwise
        offer = self_check_offer_due(message, tracker)
        for number, topic in enumerate(topics):
            last = number == len(topics) - 1
            lead_in = f"You also asked about \u201c{topic.label}\u201d:" if number else None
            send_topic_answer(topic, dispatcher, tracker, domain, lead_in=lead_in, with_buttons=last and not offer)
        if offer:
            dispatcher.utter_message(response="utter_offer_self_check_for_symptoms")
        return []
