"""The guided self-check form: start (or start again), choose the next question, fill answers
given in the patient's own words. The logic is actions/self_check.py; these are its Rasa adapters.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from .conversation import answers, everything_known, finding_records
from .self_check import (
    answers_already_given, conversation_findings, ended_early, findings_of_answers, next_question, question_slots,
)

REQUESTED_SLOT = "requested_slot"


class ActionStartSelfCheck(Action):
    """Clears any earlier answers, says how the check works, and fills in the answers the patient
    has already given in their own words, so they are not asked again."""

    def name(self) -> Text:
        return "action_start_self_check"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_self_check_intro")
        cleared = {slot: None for slot in question_slots()}
        findings = conversation_findings(finding_records(tracker), cleared)
        given = answers_already_given(findings, cleared)
        return [SlotSet(slot, given.get(slot)) for slot in question_slots()] + [SlotSet(REQUESTED_SLOT, None)]


class ValidateSelfCheckForm(Action):
    """Runs after each answer: fills answers the latest message gave in words, then picks the next
    question that applies (or ends the form). A message that answers nothing (a question, say)
    fills no slot, so Rasa lets the rules answer it and the form asks its question again."""

    def name(self) -> Text:
        return "validate_self_check_form"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        given = answers(tracker)
        known = everything_known(tracker)
        new = answers_already_given(known, given)
        given.update(new)
        findings = known.merged(findings_of_answers(new))
        events = [SlotSet(slot, value) for slot, value in new.items()]
        question = None if ended_early(given) else next_question(findings, given)
        return events + [SlotSet(REQUESTED_SLOT, question.slot if question else None)]
