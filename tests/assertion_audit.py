"""A test that asserts nothing cannot fail, so it proves nothing: this plugin fails it.

Every passing test must have made at least one check that could have failed:
  * an `assert` statement that held (pytest's assertion-pass hook, so it counts asserts in the test, in
    its fixtures and in the helpers of tests/ that pytest rewrites);
  * a `pytest.raises` or `pytest.warns` block that saw what it expected.
A test that passes without either fails with "asserts nothing". Tests that end skipped or xfailed
are not judged: they did not pass.

    .venv/bin/pytest -p tests.assertion_audit --assertion-audit=report   # count only, fail nothing

The terminal summary says how many tests passed and how many of them asserted nothing.
Loaded from tests/conftest.py; `enable_assertion_pass_hook` in pyproject.toml turns the hook on.
"""

from __future__ import annotations

from collections import Counter
from typing import List, Optional

import pytest
from _pytest import python_api, recwarn

# Helper modules whose asserts are checks made on a test's behalf (pytest rewrites only test files and
# conftest by default). Registered before any test module imports them.
pytest.register_assert_rewrite(
    "harness.answer_rounds",
    "harness.blind_rounds",
    "harness.nlu_sets",
    "harness.patients",
    "harness.servers",
    "harness.services",
    "tests.fake_telegram",
)

_checks: Counter = Counter()
_current: Optional[str] = None
_asserted_nothing: List[str] = []
_judged = 0


def pytest_addoption(parser):
    parser.addoption(
        "--assertion-audit",
        choices=("enforce", "report"),
        default="enforce",
        help="enforce: a passing test that asserted nothing fails (default); report: only count",
    )


def pytest_assertion_pass(item, lineno, orig, expl):
    _checks[item.nodeid] += 1


def _count_check() -> None:
    if _current is not None:
        _checks[_current] += 1


def _counting(exit_method):
    """Wrap a context manager's __exit__ so that a block that met its expectation counts as a check.
    (pytest.raises and pytest.warns raise when it did not, so returning normally means it held.)"""

    def __exit__(self, *exc_info):
        result = exit_method(self, *exc_info)
        _count_check()
        return result

    return __exit__


python_api.RaisesContext.__exit__ = _counting(python_api.RaisesContext.__exit__)  # type: ignore[method-assign]
recwarn.WarningsChecker.__exit__ = _counting(recwarn.WarningsChecker.__exit__)  # type: ignore[method-assign]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    global _current
    _current = item.nodeid
    yield
    _current = None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    global _judged
    outcome = yield
    report = outcome.get_result()
    if call.when != "call" or not report.passed or hasattr(report, "wasxfail"):
        return
    _judged += 1
    if _checks[item.nodeid]:
        return
    _asserted_nothing.append(item.nodeid)
    if item.config.getoption("--assertion-audit") == "enforce":
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} passed without checking anything: no assert held and no "
            "pytest.raises/warns block ran. A test that cannot fail proves nothing "
            "(tests/assertion_audit.py)."
        )


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _judged:
        return
    terminalreporter.write_sep("-", "assertion audit")
    terminalreporter.write_line(f"{_judged} tests passed their call; {len(_asserted_nothing)} of them asserted nothing")
    for nodeid in _asserted_nothing[:200]:
        terminalreporter.write_line(f"  asserts nothing: {nodeid}")
