"""RedFlagPolicy: triage before topic. The reply to a red flag starts with the escalation, at any
turn, with or without the action server; a message that describes a problem but no red flag gets the
closed red-flag questions that fit it before anything else.

After every user message it asks clinical/red_flag_check.decide (pure, unit-tested), with everything
the patient has said so far (clinical/conversation.py), the learned classifier's opinion of the
message (components/red_flag_classifier.py) and the answer to any red-flag questions just asked.
This class only reads the tracker and says which action comes next:

  emergency  -> utter_emergency (or utter_emergency_crisis when the crisis line applies), a domain
                response, so it needs no action server; any active form is stopped;
  urgent     -> utter_urgent_care; while the self-check runs, the form's validation action gives
                the same advice before its next question instead (only an emergency stops the form);
  not read   -> utter_language_not_read, for a message in a script the assistant cannot read, and
                for one in another language in Latin letters that no rule or classifier escalated
                (it may be an emergency: the notice names the number); then listen;
  questions  -> utter_red_flag_questions (a domain response: "Right now, does any of this apply?"),
                then listen;
  then       -> action_triage_next_steps (reasons, booking, and the answer to any question the message
                also asked); after a same-day reply whose message half meets an emergency rule, the
                question for the missing finding; then listen.

The reasons (plain words), the structured result and the questions asked are written to slots by
the prediction itself, so they are stored with the conversation even when the action server is down.
Its priority is above RulePolicy's, and its predictions, like a form's, do not depend on the intent,
so they win over both.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.core.constants import ACTION_LISTEN_NAME, REQUESTED_SLOT
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

from clinical.conversation import ASK_ACTION, ASKED_SLOT, as_dicts, latest_turn, said
from clinical.language import load as load_language_identification
from clinical.language import other_language, readable
from clinical.red_flag_check import Decision, Thresholds, decide
from clinical.self_check import RESULT_SLOT, question_slots

UTTER_EMERGENCY = "utter_emergency"
UTTER_EMERGENCY_CRISIS = "utter_emergency_crisis"
UTTER_URGENT = "utter_urgent_care"
UTTER_NOT_READ = "utter_language_not_read"
ACTION_NEXT_STEPS = "action_triage_next_steps"
ESCALATIONS = (UTTER_EMERGENCY, UTTER_EMERGENCY_CRISIS, UTTER_URGENT)
REASONS_SLOT = "red_flag_reasons"
QUESTIONS_SLOT = "red_flag_questions"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class RedFlagPolicy(Policy):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        # RulePolicy has priority 6: a tie goes to the red-flag check. The classifier's thresholds
        # are set in config.yml (scripts/tune_red_flag_model.py chooses them).
        defaults = Thresholds()
        return {
            "priority": 7,
            "model_emergency_threshold": defaults.emergency,
            "model_urgent_threshold": defaults.urgent,
            "model_ask_threshold": defaults.ask,
            "model_crisis_threshold": defaults.crisis,
        }

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        featurizer=None,
    ) -> None:
        super().__init__(config, model_storage, resource, execution_context, featurizer)
        config = {**self.get_default_config(), **config}
        self.thresholds = Thresholds(
            config["model_emergency_threshold"],
            config["model_urgent_threshold"],
            config["model_ask_threshold"],
            config["model_crisis_threshold"],
        )
        load_language_identification()

    def train(self, training_trackers: List[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        return self._resource  # nothing to learn here: the rules are data, the classifier is its own component

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        last_action = tracker.latest_action_name
        form_active = bool(tracker.active_loop_name)
        if last_action == ACTION_LISTEN_NAME and self._after_user_message(tracker):
            if not readable(tracker.latest_message.text or ""):
                return self._predict(UTTER_NOT_READ, domain)
            decision = self._decide(tracker)
            result = decision.escalation
            if result is not None and (result.is_emergency or not form_active):
                return self._escalate(decision, form_active, domain)
            # French, German, Turkish...: the lexicons' few Spanish and Portuguese words may still have
            # escalated it above; otherwise neither the answer nor English questions would be read.
            if other_language(tracker.latest_message.text or ""):
                return self._predict(UTTER_NOT_READ, domain)
            if decision.questions and not form_active:
                return self._ask(decision, domain)
        elif last_action in ESCALATIONS:
            return self._predict(ACTION_NEXT_STEPS, domain)
        elif last_action in (ASK_ACTION, UTTER_NOT_READ):
            return self._predict(ACTION_LISTEN_NAME, domain)
        elif last_action == ACTION_NEXT_STEPS and self._previous_action(tracker) in ESCALATIONS:
            if self._previous_action(tracker) == UTTER_URGENT and not form_active:
                decision = self._decide(tracker)
                if decision.questions:  # the missing finding of a half-met emergency, at once
                    return self._ask(decision, domain)
            return self._predict(ACTION_LISTEN_NAME, domain)
        return self._prediction(self._default_predictions(domain))

    # --- reading the tracker ---------------------------------------------------------------
    @staticmethod
    def _after_user_message(tracker: DialogueStateTracker) -> bool:
        for event in reversed(tracker.events):
            if isinstance(event, UserUttered):
                return True
            if isinstance(event, ActionExecuted) and event.action_name != ACTION_LISTEN_NAME:
                return False
        return False

    def _decide(self, tracker: DialogueStateTracker) -> Decision:
        events = as_dicts(tracker.events)
        answers = {slot: tracker.get_slot(slot) for slot in question_slots()}
        turn = latest_turn(events)
        if turn is None:
            return Decision()
        return decide(
            said(events, answers),
            turn.opinion,
            self.thresholds,
            turn.answered_questions,
            turn.intent,
            turn.asked_before,
        )

    @staticmethod
    def _previous_action(tracker: DialogueStateTracker) -> Optional[str]:
        actions = [e.action_name for e in tracker.events if isinstance(e, ActionExecuted)]
        return actions[-2] if len(actions) >= 2 else None

    # --- predicting ------------------------------------------------------------------------
    def _escalate(self, decision: Decision, form_active: bool, domain: Domain) -> PolicyPrediction:
        result = decision.escalation
        assert result is not None
        if result.is_emergency:
            action = UTTER_EMERGENCY_CRISIS if result.crisis_line else UTTER_EMERGENCY
        else:
            action = UTTER_URGENT
        record = {"source": "red_flag_check", "decided_by": decision.source, **result.as_record(decision.findings)}
        events: List[Any] = [
            SlotSet(REASONS_SLOT, "; ".join(reason.text for reason in result.reasons)),
            SlotSet(RESULT_SLOT, record),
        ]
        if result.is_emergency and form_active:
            events += [ActiveLoop(None), SlotSet(REQUESTED_SLOT, None)]
        return self._predict(action, domain, optional_events=events)

    def _ask(self, decision: Decision, domain: Domain) -> PolicyPrediction:
        listed = "\n".join(f"- {question.text}" for question in decision.questions)
        events = [SlotSet(QUESTIONS_SLOT, listed), SlotSet(ASKED_SLOT, [q.id for q in decision.questions])]
        return self._predict(ASK_ACTION, domain, optional_events=events)

    def _predict(self, action: str, domain: Domain, optional_events: Optional[List[Any]] = None) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        probabilities[domain.index_for_action(action)] = 1.0
        return self._prediction(probabilities, optional_events=optional_events, is_no_user_prediction=True)
