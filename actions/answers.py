"""action_answer_from_articles: answers every article-topic intent from the content records."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from . import clinic
from clinical.articles import Topic, compose_answer, load_library


def send_topic_answer(
    topic: Topic,
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    domain: Dict[Text, Any],
    lead_in: Optional[str] = None,
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
    in_self_check = bool((tracker.active_loop or {}).get("name"))
    buttons = [] if in_self_check else clinic.response_buttons(domain, "utter_next_steps")
    dispatcher.utter_message(text=text, buttons=buttons)


class ActionAnswerFromArticles(Action):
    def name(self) -> Text:
        return "action_answer_from_articles"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]
    ) -> List[Dict[Text, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        topic = load_library().topic_for_intent(intent)
        if topic is None:
            # Only reachable if a rule sends a non-topic intent here; say so honestly.
            dispatcher.utter_message(response="utter_out_of_scope")
            return []
        send_topic_answer(topic, dispatcher, tracker, domain)
        return []
