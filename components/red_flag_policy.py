"""RedFlagPolicy: the reply to a red flag starts with the escalation, at any turn, with or without
the action server.

After every user message it triages everything the patient has said so far: each message's findings
(recorded in the parse result by components/finding_extractor.py) and the self-check's answers (form
slots). The decision itself is actions/triage.escalation (pure, unit-tested); this class only reads
the tracker and says which action comes next:

  emergency  -> utter_emergency (or utter_emergency_crisis when the crisis line applies), a domain
                response, so it needs no action server; any active form is stopped;
  urgent     -> utter_urgent_care; while the self-check runs, the form's validation action gives
                the same advice before its next question instead (only an emergency stops the form);
  then       -> action_triage_next_steps (reasons, booking, and the answer to any question the message
                also asked), then listen.

The reasons (plain words) and the structured result are written to slots by the prediction itself,
so they are stored with the conversation even when the action server is down.
Its priority is above RulePolicy's, and its predictions, like a form's, do not depend on the intent,
so they win over both.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.shared.core.constants import ACTION_LISTEN_NAME, REQUESTED_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Restarted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from clinical.self_check import FINDINGS_KEY, RESULT_SLOT, earlier_and_latest, question_slots, said_in_order
from clinical.triage import Findings, TriageResult, escalation

UTTER_EMERGENCY = "utter_emergency"
UTTER_EMERGENCY_CRISIS = "utter_emergency_crisis"
UTTER_URGENT = "utter_urgent_care"
ACTION_NEXT_STEPS = "action_triage_next_steps"
ESCALATIONS = (UTTER_EMERGENCY, UTTER_EMERGENCY_CRISIS, UTTER_URGENT)
REASONS_SLOT = "red_flag_reasons"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class RedFlagPolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # RulePolicy has priority 6: a tie goes to the red-flag check.
        return {"priority": 7}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 execution_context: ExecutionContext, featurizer=None) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource  # nothing to learn: the rules are data (clinical/content/red_flags.yml)

    def predict_action_probabilities(self, tracker: DialogueStateTracker, domain: Domain,
                                     rule_only_data: Optional[Dict[Text, Any]] = None,
                                     **kwargs: Any) -> PolicyPrediction:
        last_action = tracker.latest_action_name
        if last_action == ACTION_LISTEN_NAME and self._after_user_message(tracker):
            result, findings = self._escalation(tracker)
            form_active = bool(tracker.active_loop_name)
            if result is not None and (result.is_emergency or not form_active):
                return self._escalate(result, findings, form_active, domain)
        elif last_action in ESCALATIONS:
            return self._predict(ACTION_NEXT_STEPS, domain)
        elif last_action == ACTION_NEXT_STEPS and self._previous_action(tracker) in ESCALATIONS:
            return self._predict(ACTION_LISTEN_NAME, domain)
        return self._prediction(self._default_predictions(domain))

    # --- reading the tracker ---------------------------------------------------------------
    @staticmethod
    def _conversation(tracker: DialogueStateTracker) -> List[Any]:
        """Events since the conversation (re)started. UserUtteranceReverted is ignored on purpose:
        what a patient said about their symptoms stays said, even when the message was not understood."""
        events: List[Any] = []
        for event in tracker.events:
            if isinstance(event, (Restarted, SessionStarted)):
                events = []
            else:
                events.append(event)
        return events

    def _after_user_message(self, tracker: DialogueStateTracker) -> bool:
        for event in reversed(self._conversation(tracker)):
            if isinstance(event, UserUttered):
                return True
            if isinstance(event, ActionExecuted) and event.action_name != ACTION_LISTEN_NAME:
                return False
        return False

    def _escalation(self, tracker: DialogueStateTracker) -> Tuple[Optional[TriageResult], Findings]:
        events = self._conversation(tracker)
        records = [(i, event.parse_data.get(FINDINGS_KEY)) for i, event in enumerate(events)
                   if isinstance(event, UserUttered)]
        set_at = {event.key: i for i, event in enumerate(events) if isinstance(event, SlotSet)}
        answers = {slot: (set_at.get(slot, len(events)), tracker.get_slot(slot)) for slot in question_slots()}
        earlier, latest = earlier_and_latest(said_in_order(records, answers))
        return escalation(earlier, latest), earlier.merged(latest)

    @staticmethod
    def _previous_action(tracker: DialogueStateTracker) -> Optional[str]:
        actions = [e.action_name for e in tracker.events if isinstance(e, ActionExecuted)]
        return actions[-2] if len(actions) >= 2 else None

    # --- predicting ------------------------------------------------------------------------
    def _escalate(self, result: TriageResult, findings: Findings, form_active: bool,
                  domain: Domain) -> PolicyPrediction:
        if result.is_emergency:
            action = UTTER_EMERGENCY_CRISIS if result.crisis_line else UTTER_EMERGENCY
        else:
            action = UTTER_URGENT
        events: List[Any] = [
            SlotSet(REASONS_SLOT, "; ".join(reason.text for reason in result.reasons)),
            SlotSet(RESULT_SLOT, {"source": "red_flag_check", **result.as_record(findings)}),
        ]
        if result.is_emergency and form_active:
            events += [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]
        return self._predict(action, domain, optional_events=events)

    def _predict(self, action: str, domain: Domain, optional_events: Optional[List[Any]] = None) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities, optional_events=optional_events, is_no_user_prediction=True)
