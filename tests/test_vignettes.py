"""The red-flag check on the held-out clinical vignettes (tests/vignettes/), end to end.

Every vignette goes through the real assistant (action server + Rasa server, REST channel), as a
patient's messages would. A reply "escalates" when its first message carries the emergency
contract: the emergency number and the word "emergency". The test fails unless every emergency
vignette escalates (recall 100%) and at most 10% of the others do (over-triage); it prints both.
"""

from __future__ import annotations

import uuid

import pytest

from harness.domain import load_domain
from tests.test_vignette_sets import SETS

pytestmark = pytest.mark.slow
EMERGENCY_NUMBER = load_domain()["slots"]["emergency_number"]["initial_value"]
MAX_OVER_TRIAGE = 0.10
# Scene-setting turns escalated before the red flag that are known and explained; a new one fails.
# R2-MT-05@2 "I twisted my knee at football about 3 hours ago": the red-flag classifier gives 0.805
# against the 0.8 threshold since the answer writers' 790 training messages joined its ordinary
# messages (0.792 without them; issue 11). scripts/tune_red_flag_model still chooses 0.8 on the
# development rounds (at 0.85 recall falls from 0.977 to 0.975), so the threshold stays.
KNOWN_EARLY = {"R2-MT-05@2"}


def escalates(replies) -> bool:
    first = replies[0].get("text", "") if replies else ""
    return EMERGENCY_NUMBER in first and "emergency" in first.lower()


def rate(hits: int, total: int) -> str:
    return f"{hits}/{total} = {100 * hits / total:.1f}%"


@pytest.mark.parametrize("name", sorted(SETS))
def test_single_message_vignettes(assistant, name, capsys):
    vignettes = SETS[name][0]
    missed, over = [], []
    emergencies = [v for v in vignettes if v["level"] == "emergency"]
    others = [v for v in vignettes if v["level"] != "emergency"]
    for vignette in vignettes:
        escalated = escalates(assistant.say(f"v-{uuid.uuid4().hex[:8]}", vignette["text"]))
        if vignette["level"] == "emergency" and not escalated:
            missed.append(vignette["id"])
        if vignette["level"] != "emergency" and escalated:
            over.append(vignette["id"])
    with capsys.disabled():
        print(
            f"\n[vignettes] {name} single messages: red-flag recall "
            f"{rate(len(emergencies) - len(missed), len(emergencies))}, over-triage {rate(len(over), len(others))}"
            f"; missed {missed}, over-triaged {over}"
        )
    assert missed == []
    assert len(over) <= MAX_OVER_TRIAGE * len(others)


@pytest.mark.parametrize("name", sorted(SETS))
def test_multi_turn_vignettes(assistant, name, capsys):
    conversations = SETS[name][1]
    missed, early, over = [], [], []
    escalating = [c for c in conversations if c["escalate_at"] is not None]
    quiet = [c for c in conversations if c["escalate_at"] is None]
    for conversation in conversations:
        sender = f"mt-{uuid.uuid4().hex[:8]}"
        at = conversation["escalate_at"]
        for turn, text in enumerate(conversation["turns"], start=1):
            escalated = escalates(assistant.say(sender, text))
            if at is None and escalated:
                over.append(f"{conversation['id']}@{turn}")
                break
            if at is not None and turn < at and escalated:
                early.append(f"{conversation['id']}@{turn}")
            if at is not None and turn == at:
                if not escalated:
                    missed.append(conversation["id"])
                break
    with capsys.disabled():
        print(
            f"\n[vignettes] {name} conversations: red-flag recall "
            f"{rate(len(escalating) - len(missed), len(escalating))} (at the right turn), over-triage "
            f"{rate(len(over), len(quiet))} of quiet conversations, {len(early)} escalations before the "
            f"red-flag turn; missed {missed}, over-triaged {over}, early {early}"
        )
    assert missed == []
    unexplained_early = [turn for turn in early if turn not in KNOWN_EARLY]
    assert len(over) + len(unexplained_early) <= MAX_OVER_TRIAGE * len(conversations), (over, early)
