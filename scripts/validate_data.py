"""`rasa data validate`, strict: any warning fails, except a response that only our actions send.

Rasa's validator warns "The utterance 'utter_x' is not used in any story or rule" for responses that
custom actions send (the disclaimer, the stem cell notice, the next-step buttons), and does not fail
on that warning even with --fail-on-warnings. Here such a warning is accepted only if the response's
name really appears in the actions package; every other warning fails the run.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UNUSED = re.compile(r"The utterance '(utter_\w+)' is not used in any story or rule")


ACTIONS_SOURCE = "".join(path.read_text() for path in (ROOT / "actions").glob("*.py"))


def sent_by_an_action(response: str) -> bool:
    return f'"{response}"' in ACTIONS_SOURCE


def main() -> int:
    rasa = str(Path(sys.executable).with_name("rasa"))
    # Validation trains nothing: leave out TF_DETERMINISTIC_OPS, whose GPU-only warning is noise here.
    env = {key: value for key, value in os.environ.items() if key != "TF_DETERMINISTIC_OPS"}
    run = subprocess.run([rasa, "data", "validate", "--fail-on-warnings"], cwd=ROOT,
                         capture_output=True, text=True, env=env)
    output = run.stdout + run.stderr
    problems = []
    for line in output.splitlines():
        if "UserWarning" not in line and "MissingDependencyException" not in line:
            continue
        unused = UNUSED.search(line)
        if unused and sent_by_an_action(unused.group(1)):
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
