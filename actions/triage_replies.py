"""Replies that carry a triage result: the self-check summary and the follow-up to an escalation.

The wording of each level lives in domain/red_flags.yml (utter_level_*), the reasons in
content/red_flags.yml; this module only puts them together. It never names a diagnosis: a reason
says what the patient told us, and the concern is what a clinician may want to check.
"""

from __future__ import annotations

import re
from typing import Any, Dict, Iterable, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from clinical.articles import load_library
from clinical.conversation import ASK_ACTION, ASKED_SLOT
from clinical.scope import entities_within, out_of_scope_reason
from clinical.self_check import RESULT_SLOT, ended_early
from clinical.triage import LEVEL_NAMES, Level, Reason, triage

from . import clinic
from .answers import send_topic_answer
from .conversation import answers, everything_known
from .fallback import passage_search

MIN_TOPIC_CONFIDENCE = 0.3  # see _asked_topic
_QUESTION = re.compile(r"[^.!?]*\?")  # a sentence that ends with a question mark
LEVEL_RESPONSES = {
    Level.EMERGENCY: "utter_level_emergency",
    Level.URGENT: "utter_level_urgent",
    Level.SEE_CLINICIAN: "utter_level_see_clinician",
    Level.SELF_CARE_INFO: "utter_level_self_care_info",
}


def reasons_in_plain_words(reasons: Iterable[Reason]) -> str:
    lines = [
        f"- You told me {reason.text}: a clinician would want to check for {reason.concern}." for reason in reasons
    ]
    return "\n".join(lines)


def self_check_record(tracker: Tracker, source: str) -> Dict[str, Any]:
    """The structured result for clinic staff: findings, answers, level, reasons, time."""
    given = answers(tracker)
    findings = everything_known(tracker)
    return {
        "source": source,
        **triage(findings).as_record(findings),
        "answers": {slot: value for slot, value in given.items() if value is not None},
    }


def next_step_messages(dispatcher: CollectingDispatcher, domain: Dict[Text, Any], tracker: Tracker) -> None:
    dispatcher.utter_message(
        text=clinic.response_text(domain, "utter_disclaimer", tracker),
        buttons=clinic.response_buttons(domain, "utter_triage_next_steps"),
    )


class ActionTriageNextSteps(Action):
    """After an escalation (utter_emergency / utter_urgent_care): the reasons, the next steps, and
    for a same-day escalation the answer to the article question the message also asked."""

    def name(self) -> Text:
        return "action_triage_next_steps"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        result = tracker.get_slot(RESULT_SLOT) or {}
        level = Level.from_code(result.get("level", "self_care_info"))
        reasons = [
            Reason(r["rule"], Level.from_code(r["level"]), r["reason"], r["concern"]) for r in result.get("reasons", [])
        ]
        if reasons:
            dispatcher.utter_message(text=reasons_in_plain_words(reasons))
        if level is Level.EMERGENCY:
            dispatcher.utter_message(text="When you are safe, you can come back and ask me anything.")
        else:
            topic = load_library().topic_for_intent(_asked_topic(tracker))
            if topic is not None:
                send_topic_answer(topic, dispatcher, tracker, domain, lead_in=f"About your question ({topic.label}):")
        next_step_messages(dispatcher, domain, tracker)
        return []


def _asked_topic(tracker: Tracker, message: Optional[Dict[str, Any]] = None) -> str:
    """The article topic a message (by default the latest) asked about, even if the scope rules
    overruled it.

    A message that mixes a red flag with a question ("my knee locked... how much does it cost?") is
    often not understood as a whole. Its question sentence is looked up in the articles' passages;
    failing that, its best-ranked topic is taken when it reaches MIN_TOPIC_CONFIDENCE. The answer
    names the topic, so a wrong guess is plain to see.
    """
    message = message if message is not None else (tracker.latest_message or {})
    overruled = (message.get("scope_guard") or {}).get("overruled_intent")
    intent = overruled or (message.get("intent") or {}).get("name") or ""
    if intent != "nlu_fallback":
        return intent
    # The question itself ("... how much does stem cell therapy cost?") is looked up in the articles'
    # passages first: the classifier reads the whole message, red flag and all.
    # Never for a question the scope rules keep out (a medicine, another condition...).
    entities = message.get("entities") or []
    for question in _QUESTION.finditer(message.get("text") or ""):
        inside = entities_within(entities, question.start(), question.end())
        if out_of_scope_reason(question.group(), inside) is None:
            hit = passage_search().search(question.group())
            if hit is not None:
                return hit.topic.intent
    topics = load_library().topics
    ranked = [r for r in message.get("intent_ranking") or [] if r.get("name") in topics]
    best = max(ranked, key=lambda r: r.get("confidence") or 0.0, default=None)
    return best["name"] if best and (best.get("confidence") or 0.0) >= MIN_TOPIC_CONFIDENCE else ""


class ActionSelfCheckSummary(Action):
    """The end of the self-check: the level, the reasons in plain words, what to do now, the
    disclaimer and next steps (booking for everyone), and the structured result for staff."""

    def name(self) -> Text:
        return "action_self_check_summary"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        record = self_check_record(tracker, "self_check")
        stopped_for = ended_early(answers(tracker))
        if stopped_for is not None:
            dispatcher.utter_message(response=stopped_for.ends_check)
            record["ended_early"] = stopped_for.slot
        else:
            level = Level.from_code(record["level"])
            reasons = [
                Reason(r["rule"], Level.from_code(r["level"]), r["reason"], r["concern"]) for r in record["reasons"]
            ]
            lines = [
                clinic.response_text(domain, "utter_self_check_summary_intro", tracker),
                f"Result: {LEVEL_NAMES[level]}.",
            ]
            lines.append(reasons_in_plain_words(reasons) if reasons else "Nothing you told me is a warning sign.")
            lines.append(clinic.response_text(domain, LEVEL_RESPONSES[level], tracker))
            dispatcher.utter_message(text="\n\n".join(lines))
        next_step_messages(dispatcher, domain, tracker)
        return [SlotSet(RESULT_SLOT, record)]


class ActionSelfCheckStopped(Action):
    """The patient stopped the self-check: say so, keep what they told us (the result is stored,
    marked as stopped), and if it already needs care soon, say what to do now."""

    def name(self) -> Text:
        return "action_self_check_stopped"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        record = {**self_check_record(tracker, "self_check"), "stopped_early": True}
        dispatcher.utter_message(response="utter_self_check_stopped")
        level = Level.from_code(record["level"])
        if level >= Level.SEE_CLINICIAN:
            dispatcher.utter_message(text=clinic.response_text(domain, LEVEL_RESPONSES[level], tracker))
        return [SlotSet(RESULT_SLOT, record)]


class ActionAfterRedFlagQuestions(Action):
    """The patient said none of the closed red-flag questions applies: go on with what they wanted.
    The question their message asked is answered; a described problem gets the self-check and
    booking offered (booking is open to everyone)."""

    def name(self) -> Text:
        return "action_after_red_flag_questions"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        if _same_day_reply_before_the_questions(tracker):
            # the same-day advice, its reasons and the answer were given before the questions
            dispatcher.utter_message(response="utter_not_an_emergency_but_today")
            return [SlotSet(ASKED_SLOT, None)]
        dispatcher.utter_message(response="utter_no_red_flag_now")
        asked = _message_before_the_questions(tracker)
        topic = load_library().topic_for_intent(_asked_topic(tracker, asked)) if asked else None
        if topic is not None:
            send_topic_answer(topic, dispatcher, tracker, domain, lead_in=f"About your question ({topic.label}):")
        else:
            dispatcher.utter_message(response="utter_offer_self_check")
        return [SlotSet(ASKED_SLOT, None)]


def _since_the_question_was_raised(tracker: Tracker) -> List[Dict[str, Any]]:
    """The events from the user message the red-flag questions were asked about to the questions."""
    asked_at = None
    for i, event in enumerate(tracker.events):
        if event.get("event") == "action" and event.get("name") == ASK_ACTION:
            asked_at = i
    if asked_at is None:
        return []
    for start in range(asked_at - 1, -1, -1):
        if tracker.events[start].get("event") == "user":
            return list(tracker.events[start:asked_at])
    return []


def _message_before_the_questions(tracker: Tracker) -> Optional[Dict[str, Any]]:
    """The parse data of the user message the red-flag questions were asked about."""
    events = _since_the_question_was_raised(tracker)
    return (events[0].get("parse_data") or {}) if events else None


def _same_day_reply_before_the_questions(tracker: Tracker) -> bool:
    return any(
        e.get("event") == "action" and e.get("name") == "utter_urgent_care"
        for e in _since_the_question_was_raised(tracker)
    )
