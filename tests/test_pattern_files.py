"""The pattern files a clinician reviews (clinical/patterns/) stay readable in a diff: laid out by
scripts/format_patterns.py, which changes the layout and never the data."""

from __future__ import annotations

import pytest
import yaml

from scripts.format_patterns import PATTERN_FILES, WIDTH, layout


@pytest.mark.parametrize("path", PATTERN_FILES, ids=[p.name for p in PATTERN_FILES])
def test_the_pattern_files_are_laid_out(path):
    text = path.read_text(encoding="utf-8")
    assert layout(text) == text, "run: .venv/bin/python -m scripts.format_patterns"


@pytest.mark.parametrize("path", PATTERN_FILES, ids=[p.name for p in PATTERN_FILES])
def test_only_a_long_regex_makes_a_line_wider_than_the_layout(path):
    # YAML cannot break a quoted string without changing it: a long REGEX stays on its line.
    wide = [line for line in path.read_text(encoding="utf-8").splitlines() if len(line) > WIDTH]
    assert [line for line in wide if '"REGEX"' not in line] == []


LONG_PATTERN = (
    "findings:\n"
    "  fall:\n"
    "    phrases: [" + ", ".join(f"phrase number {n}" for n in range(20)) + "]\n"
    "    patterns:\n"
    '      - [{"LOWER": {"IN": [' + ", ".join(f'"word{n}"' for n in range(30)) + ']}}, {"LOWER": "down"}]  # why\n'
    '      - [{"LEMMA": "fall"}]\n'
)


def test_a_long_pattern_gets_a_line_per_token_and_keeps_its_data():
    laid_out = layout(LONG_PATTERN)
    lines = laid_out.splitlines()
    assert max(map(len, lines)) <= WIDTH
    assert yaml.safe_load(laid_out) == yaml.safe_load(LONG_PATTERN)
    assert "      # why" in lines and '      - [{"LEMMA": "fall"}]' in lines
    assert any(line.strip() == '{"LOWER": "down"}]' for line in lines)  # the second token on its own line
    assert layout(laid_out) == laid_out
