"""The FHIR R4 hand-over bundle (staff_inbox/fhir_bundle.py)."""

from __future__ import annotations

import copy

import pydantic
import pytest

from clinical.handover import summarise
from staff_inbox.fhir_bundle import CodeError, build_bundle, check_codes, validate
from tests.fake_fhir import FakeFhirServer
from tests.staff_conversations import emergency_after_a_fall, handoff_only, self_check_see_clinician


def resources(bundle):
    return {entry["resource"]["resourceType"]: entry["resource"] for entry in bundle["entry"]}


def bundle_of(events, sender="patient-1"):
    return build_bundle(sender, summarise(events), events)


def test_a_self_check_becomes_answers_and_a_risk_assessment_based_on_them():
    bundle = bundle_of(self_check_see_clinician())
    found = resources(bundle)
    assert set(found) == {"Patient", "QuestionnaireResponse", "RiskAssessment"}
    answers = {
        item["linkId"]: item["answer"][0]["valueCoding"]["code"] for item in found["QuestionnaireResponse"]["item"]
    }
    assert answers == {"sc_fever": "N", "sc_extreme_pain": "N", "sc_swelling": "Y"}
    risk = found["RiskAssessment"]
    assert risk["prediction"][0]["outcome"]["text"] == "See a clinician soon"
    assert risk["prediction"][0]["rationale"] == "swelling that keeps coming back"
    patient_url = bundle["entry"][0]["fullUrl"]
    assert risk["subject"]["reference"] == patient_url
    assert risk["basis"][0]["reference"] == bundle["entry"][1]["fullUrl"]
    assert found["Patient"]["identifier"][0]["value"] == "patient-1" and "name" not in found["Patient"]
    assert FakeFhirServer.problem(bundle, "application/fhir+json") is None


def test_emergency_advice_becomes_a_flag():
    found = resources(bundle_of(emergency_after_a_fall()))
    assert set(found) == {"Patient", "RiskAssessment", "Flag"}
    assert found["Flag"]["status"] == "active"
    assert found["Flag"]["category"][0]["coding"][0]["code"] == "clinical"


def test_not_sure_is_asked_but_unknown():
    events = self_check_see_clinician() + [{"event": "slot", "name": "sc_calf", "value": "unsure", "timestamp": 1.0}]
    items = resources(bundle_of(events))["QuestionnaireResponse"]["item"]
    calf = [item for item in items if item["linkId"] == "sc_calf"][0]
    assert calf["answer"][0]["valueCoding"]["code"] == "ASKU"


def test_a_conversation_without_a_check_is_only_the_patient():
    assert set(resources(bundle_of(handoff_only()))) == {"Patient"}


def test_codes_outside_the_table_and_wrong_displays_are_refused():
    bundle = bundle_of(self_check_see_clinician())
    wrong_code = copy.deepcopy(bundle)
    wrong_code["entry"][1]["resource"]["item"][0]["answer"][0]["valueCoding"]["code"] = "MAYBE"
    with pytest.raises(CodeError, match="MAYBE"):
        check_codes(wrong_code)
    wrong_display = copy.deepcopy(bundle)
    wrong_display["entry"][1]["resource"]["item"][0]["answer"][0]["valueCoding"]["display"] = "Yes"
    with pytest.raises(CodeError, match="display"):
        check_codes(wrong_display)


def test_a_structurally_wrong_bundle_is_refused():
    bundle = bundle_of(self_check_see_clinician())
    del bundle["entry"][2]["resource"]["status"]  # RiskAssessment.status is 1..1
    with pytest.raises(pydantic.ValidationError):
        validate(bundle)
