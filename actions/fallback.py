"""What happens when the assistant does not understand.

The rules in data/rules/fallback.yml wire these up:
1. action_ask_to_clarify: the two or three likeliest topics (components/topic_resolver.py) as buttons
   in their plain-language labels, or one guess as "Did you mean <topic>?" [Yes] [No, something else]
   (/deny, after which the patient is asked to rephrase); a patient who described how their knee is
   gets the self-check offered instead, with the likeliest topics as buttons.
2. action_default_fallback, if the next message is still unclear (it is also Rasa's core fallback):
   the honest scope answer for a message the scope rules place outside the articles (scope.py);
   else a passage search over the articles, answering only above the tuned relevance threshold and
   naming the source; else the honest scope answer with the clinic's contact.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text, Tuple

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from clinical.articles import load_library
from clinical.passage_search import PassageSearch
from clinical.scope import out_of_scope_reason
from clinical.self_check import FINDINGS_KEY
from clinical.topic_choice import CHOICE_KEY, describes_symptoms

from .answers import self_check_offer_due, send_topic_answer

NLU_FALLBACK = "nlu_fallback"

# Requests worth offering as a guess, in plain words (topics carry their own label). Small talk
# ("yes", "thanks", "bye") is never offered: "did you mean 'no'?" helps nobody.
REQUEST_LABELS = {
    "ask_capabilities": "What can you help with?",
    "start_self_check": "Check my symptoms",
    "book_consultation": "Book a consultation",
    "human_handoff": "Talk to a member of staff",
}


# Built once when the action server loads this module, not while a patient waits.
_SEARCH = PassageSearch(load_library())


def passage_search() -> PassageSearch:
    return _SEARCH


def intent_label(intent: str) -> Optional[str]:
    topic = load_library().topic_for_intent(intent)
    return topic.label if topic else REQUEST_LABELS.get(intent)


def _best_guess(tracker: Tracker) -> Optional[str]:
    """The most likely intent other than the fallback itself and out_of_scope."""
    ranking = tracker.latest_message.get("intent_ranking") or []
    for candidate in ranking:
        name = candidate.get("name")
        if name not in (NLU_FALLBACK, "out_of_scope") and intent_label(name):
            return name
    return None


def offered_topics(message: Dict[str, Any]) -> List[str]:
    """The likeliest topics the topic resolver found for an unsure message (components/topic_resolver.py)."""
    choice = message.get(CHOICE_KEY) or {}
    if choice.get("action") != "offer":
        return []
    return [name for name in choice.get("topics") or [] if intent_label(name)]


def topic_buttons(intents: List[str]) -> List[Dict[str, Any]]:
    return [{"title": intent_label(name), "payload": f"/{name}"} for name in intents]


class ActionAskToClarify(Action):
    """One clarifying turn for a message the classifier and the article search could not agree on:
    the two or three likeliest topics as buttons; a single guess as "did you mean ...?"; and for a
    patient who described how their knee is, the self-check offered: with the answer of a topic both
    signals rank high, named as a guess, or else with the topics as buttons."""

    def name(self) -> Text:
        return "action_ask_to_clarify"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        message = tracker.latest_message or {}
        offered = offered_topics(message)
        offer = self_check_offer_due(message, tracker)
        likely = load_library().topic_for_intent((message.get(CHOICE_KEY) or {}).get("likely"))
        if describes_symptoms(message.get(FINDINGS_KEY)) and likely is not None and likely.intent in offered:
            # A described symptom with a topic both signals rank high: that topic, named as a guess,
            # then the self-check. Without such a topic, no guess: the self-check and the buttons.
            send_topic_answer(
                likely,
                dispatcher,
                tracker,
                domain,
                with_buttons=False,
                lead_in=f"This part of the clinic's articles may help (\u201c{likely.label}\u201d):",
            )
            dispatcher.utter_message(response="utter_offer_self_check_for_symptoms" if offer else "utter_next_steps")
            return []
        if offer:
            dispatcher.utter_message(response="utter_offer_self_check_for_symptoms")
            if offered:
                dispatcher.utter_message(
                    text="Or, if you were asking about one of these:", buttons=topic_buttons(offered)
                )
            return []
        if len(offered) >= 2:
            dispatcher.utter_message(
                text="I want to answer the right question. Which of these is closest to what you asked?",
                buttons=topic_buttons(offered) + [{"title": "Something else", "payload": "/deny"}],
            )
            return []
        guess = offered[0] if offered else _best_guess(tracker)
        if guess is None:
            dispatcher.utter_message(response="utter_ask_rephrase")
            return []
        dispatcher.utter_message(
            text=f"Just to check I understood: did you mean \u201c{intent_label(guess)}\u201d?",
            buttons=[
                {"title": "Yes", "payload": f"/{guess}"},
                {"title": "No, something else", "payload": "/deny"},
            ],
        )
        return []


def _latest_typed_message(tracker: Tracker) -> Tuple[str, List[Dict[str, Any]]]:
    """The message being answered and its entities. A button payload ("/deny") is not searched:
    only what the patient typed just now may be answered, never an earlier question."""
    text = (tracker.latest_message.get("text") or "").strip()
    if text.startswith("/"):
        return "", []
    return text, tracker.latest_message.get("entities") or []


class ActionDefaultFallback(Action):
    def name(self) -> Text:
        return "action_default_fallback"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        text, entities = _latest_typed_message(tracker)
        hit = None
        if out_of_scope_reason(text, entities) is None:
            hit = passage_search().search(text)
        if hit is None:
            dispatcher.utter_message(response="utter_out_of_scope")
        else:
            send_topic_answer(
                hit.topic,
                dispatcher,
                tracker,
                domain,
                lead_in=f"This part of the clinic's articles may help (\u201c{hit.topic.label}\u201d):",
            )
        # Take the message the assistant could not place out of the dialogue history, so it does not
        # steer what comes next (as Rasa's own default fallback does).
        return [UserUtteranceReverted()]
