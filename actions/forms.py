"""The guided self-check form: start (or start again), choose the next question, fill answers
given in the patient's own words. The logic is clinical/self_check.py; these are its Rasa adapters.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from clinical.articles import load_library
from clinical.self_check import (
    RESULT_SLOT,
    Said,
    answers_already_given,
    conversation_findings,
    earlier_and_latest,
    ended_early,
    findings_of_answers,
    merge,
    next_question,
    question_slots,
)
from clinical.triage import Level, escalation

from .answers import send_topic_answer, topic_from_agreement
from .conversation import answers, finding_records, said

REQUESTED_SLOT = "requested_slot"
ANSWER_INTENTS = {"affirm", "deny", "unsure"}


class ActionStartSelfCheck(Action):
    """Clears any earlier answers, says how the check works, and fills in the answers the patient
    has already given in their own words, so they are not asked again. (The cleared answers stay
    in the conversation's events, and in any result stored before.)"""

    def name(self) -> Text:
        return "action_start_self_check"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_self_check_intro")
        cleared = {slot: None for slot in question_slots()}
        findings = conversation_findings(finding_records(tracker), cleared)
        given = answers_already_given(findings, cleared)
        return [SlotSet(slot, given.get(slot)) for slot in question_slots()] + [SlotSet(REQUESTED_SLOT, None)]


class ValidateSelfCheckForm(Action):
    """Runs after each answer, before the next question:
      * fills the answers the latest message gave in words ("it's been swollen for a week");
      * a same-day (urgent) red flag in this answer is said first (an emergency never gets here:
        the red-flag policy stops the form before it runs);
      * a question asked together with an answer ("it's swollen, how much is treatment?") is answered;
      * picks the next question that applies, or ends the form.
    A message that answers nothing (a question alone) fills no slot, so Rasa rejects the form for
    this turn, the rules answer it, and the form asks its question again."""

    def name(self) -> Text:
        return "validate_self_check_form"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        given = answers(tracker)
        told = said(tracker)  # read once: both the answers and the urgent advice use it
        known = merge(told)
        new = answers_already_given(known, given)
        given.update(new)
        findings = known.updated_by(findings_of_answers(new))
        events: List[Dict[Text, Any]] = [SlotSet(slot, value) for slot, value in new.items()]
        events += self._urgent_advice_first(dispatcher, told)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        topic = load_library().topic_for_intent(intent)
        if (
            new
            and topic is not None
            and intent not in ANSWER_INTENTS
            and not topic_from_agreement(tracker.latest_message)
        ):
            send_topic_answer(topic, dispatcher, tracker, domain)
        question = None if ended_early(given) else next_question(findings, given)
        return events + [SlotSet(REQUESTED_SLOT, question.slot if question else None)]

    @staticmethod
    def _urgent_advice_first(dispatcher: CollectingDispatcher, told: Sequence[Said]) -> List[Dict[Text, Any]]:
        earlier, latest = earlier_and_latest(told)
        result = escalation(earlier, latest)
        if result is None or result.level is not Level.URGENT:
            return []
        reasons = "; ".join(reason.text for reason in result.reasons)
        dispatcher.utter_message(response="utter_urgent_care", red_flag_reasons=reasons)
        dispatcher.utter_message(text="Let's finish the questions, so the clinic has the whole picture.")
        findings = earlier.updated_by(latest)
        return [
            SlotSet("red_flag_reasons", reasons),
            SlotSet(RESULT_SLOT, {"source": "red_flag_check", **result.as_record(findings)}),
        ]
