"""The packages import each other in one direction only (the file table of README "How it works").

  clinical/    the medical logic: pure Python and data, no Rasa, no web framework
  nlp/         builds our spaCy pipeline: no Rasa
  components/  Rasa NLU components and the policy: adapters around clinical/, never the action server's
  actions/     rasa-sdk actions: adapters around clinical/, never Rasa itself or its components
  channels/, stores/, privacy/  the servers' plumbing: no actions or components
  settings/    the environment's settings and their defaults: imports nothing of ours
  harness/     what tests and tools share (starting the servers, the data sets): never tests/
  scripts/     launchers and tools: never tests/
No product package imports tests/, harness/ or scripts/, and nothing outside tests/ imports tests/.
Read from the source with `ast`, so nothing is imported to check it.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS = {"tests", "scripts", "harness"}
FORBIDDEN: Dict[str, Set[str]] = {
    "clinical": {"rasa", "rasa_sdk", "sanic", "actions", "components", "channels", "stores", "privacy", "staff_inbox"}
    | TOOLS,
    "nlp": {"rasa", "rasa_sdk", "actions", "components", "channels"} | TOOLS,
    "components": {"rasa_sdk", "actions", "channels"} | TOOLS,
    "actions": {"rasa", "components", "channels", "stores"} | TOOLS,
    "channels": {"actions", "components"} | TOOLS,
    "stores": {"actions", "components", "channels"} | TOOLS,
    "privacy": {"rasa", "actions", "components", "channels"} | TOOLS,
    # The staff inbox is its own process: no Rasa, nothing of the servers' packages.
    "staff_inbox": {"rasa", "rasa_sdk", "sanic", "actions", "components", "channels", "nlp"} | TOOLS,
    "settings": {"rasa", "rasa_sdk", "actions", "components", "channels", "stores", "privacy", "clinical", "nlp"}
    | {"staff_inbox"}
    | TOOLS,
    "harness": {"tests"},
    "scripts": {"tests"},
}


def imported_packages(path: Path) -> Iterator[Tuple[int, str]]:
    """(line, top-level package) of every absolute import in a module."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def violations(package: str) -> list:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, imported in imported_packages(path):
            if imported in FORBIDDEN[package]:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downwards(package):
    assert (ROOT / package).is_dir()
    assert violations(package) == []


def test_the_check_reads_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import rasa.core\nfrom actions.answers import x\nfrom . import sibling\n")
    assert list(imported_packages(module)) == [(1, "rasa"), (2, "actions")]


def test_nothing_outside_tests_imports_tests():
    skip = {".venv", "build", "tests", "node_modules", "var", "models", ".rasa"}
    sources = [p for p in ROOT.rglob("*.py") if not skip & set(p.relative_to(ROOT).parts)]
    assert len(sources) > 50
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sources
        for line, imported in imported_packages(path)
        if imported == "tests"
    ]
    assert found == []
