"""The ScopeGuard NLU component overrules the classifier for out-of-scope messages."""

from rasa.shared.nlu.training_data.message import Message

from components.scope_guard import REASON_KEY, ScopeGuard


def classified(text, intent, entities):
    message = Message(data={"text": text})
    message.set("intent", {"name": intent, "confidence": 0.93}, add_to_output=True)
    message.set(
        "intent_ranking",
        [{"name": intent, "confidence": 0.93}, {"name": "out_of_scope", "confidence": 0.05}],
        add_to_output=True,
    )
    message.set("entities", entities, add_to_output=True)
    return message


def test_overrules_an_article_intent_for_a_medicine_question():
    message = classified(
        "whats a good painkiller like tylenol for toothache",
        "ask_treatment_alternatives",
        [{"entity": "medicine", "value": "tylenol"}],
    )
    (out,) = ScopeGuard().process([message])
    assert out.get("intent") == {"name": "out_of_scope", "confidence": 1.0}
    assert [r["name"] for r in out.get("intent_ranking")] == ["out_of_scope", "ask_treatment_alternatives"]
    assert out.get(REASON_KEY) == {
        "reason": "the message names a medicine or a dose",
        "overruled_intent": "ask_treatment_alternatives",
    }


def test_leaves_an_in_scope_message_alone():
    message = classified(
        "how much are stem cells for my knee", "ask_msc_cost", [{"entity": "treatment"}, {"entity": "knee_part"}]
    )
    (out,) = ScopeGuard().process([message])
    assert out.get("intent")["name"] == "ask_msc_cost"
    assert out.get(REASON_KEY) is None


def test_asks_to_clarify_an_unsure_article_answer_to_a_message_naming_no_article_subject():
    message = classified("how do i make the thing go backwards", "ask_msc_cure", [])
    message.set("intent", {"name": "ask_msc_cure", "confidence": 0.8}, add_to_output=True)
    (out,) = ScopeGuard().process([message])
    assert out.get("intent") == {"name": "nlu_fallback", "confidence": 0.8}
    assert out.get("intent_ranking")[0]["name"] == "nlu_fallback"
    assert out.get(REASON_KEY)["overruled_intent"] == "ask_msc_cure"
