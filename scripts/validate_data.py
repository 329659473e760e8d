"""`rasa data validate`, strict: any warning fails, except a response that no rule needs to name.

Rasa's validator warns "The utterance 'utter_x' is not used in any story or rule" for responses that
custom actions send (the disclaimer, the next-step buttons), that the red-flag policy predicts (the
escalations), that the channels' patient guard sends (domain/service.yml), that the content names
(the under-16 reply) or that a form asks (utter_ask_<slot>), and does not fail on that warning even
with --fail-on-warnings. Here such a warning is accepted only
if the response's name really appears in the actions package, the components or the content, or it
asks a form's question; every other warning fails the run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNUSED = re.compile(r"The utterance '(utter_\w+)' is not used in any story or rule")


SOURCES = [
    *(ROOT / "actions").glob("*.py"),
    *(ROOT / "components").glob("*.py"),
    *(ROOT / "channels").glob("*.py"),
    *(ROOT / "clinical").glob("*.py"),
    *(ROOT / "clinical" / "content").glob("*.yml"),
]
SOURCE_TEXT = "".join(path.read_text(encoding="utf-8") for path in SOURCES)
FORM_QUESTION = re.compile(r"utter_ask_sc_\w+")  # generated with the form: scripts/build_self_check_domain.py


def sent_without_a_rule(response: str) -> bool:
    return FORM_QUESTION.fullmatch(response) is not None or re.search(rf"\b{response}\b", SOURCE_TEXT) is not None


def main() -> int:
    rasa = str(Path(sys.executable).with_name("rasa"))
    # Validation trains nothing: leave out TF_DETERMINISTIC_OPS, whose GPU-only warning is noise here.
    env = {key: value for key, value in os.environ.items() if key != "TF_DETERMINISTIC_OPS"}
    run = subprocess.run(
        [rasa, "data", "validate", "--domain", "domain", "--fail-on-warnings"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    output = run.stdout + run.stderr
    problems = []
    for line in output.splitlines():
        if "UserWarning" not in line and "MissingDependencyException" not in line:
            continue
        unused = UNUSED.search(line)
        if unused and sent_without_a_rule(unused.group(1)):
            continue
        problems.append(line.strip())
    if run.returncode != 0 or problems:
        print(output[-5000:])
        print("rasa data validate: FAILED", *problems, sep="\n  ")
        return 1
    print("rasa data validate: clean (responses sent only by actions: accepted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
