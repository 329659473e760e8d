"""Lay out the pattern files a clinician reviews so that every line can be read in a diff.

    .venv/bin/python -m scripts.format_patterns           # rewrite clinical/patterns/*.yml in place
    .venv/bin/python -m scripts.format_patterns --check   # exit 1 if a file is not laid out (make lint)

Only the layout changes, never the data (each file is loaded before and after and must be equal).
A line longer than WIDTH that holds a flow collection ([...] or {...}) is broken:
  * a spaCy pattern, `- [{token}, {token}, ...]`, gets one token per line;
  * a list of words (`phrases: [...]`, `"IN": [...]`) is wrapped between words;
  * a comment at the end of such a line moves to its own line above it.
Continuation lines start under the first item of the collection they continue, so the nesting shows.
A single quoted string longer than WIDTH (a long REGEX) cannot be broken in YAML and stays as it is.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import yaml

ROOT = Path(__file__).resolve().parent.parent
PATTERN_FILES = sorted((ROOT / "clinical" / "patterns").glob("*.yml"))
WIDTH = 110
OPENERS, CLOSERS = "[{", "]}"


def _scan(text: str) -> List[Tuple[int, str, int]]:
    """(position, character, depth before it) of every bracket, comma and comment start outside
    quotes in one line of YAML flow text."""
    found, depth, quote, i = [], 0, None, 0
    while i < len(text):
        char = text[i]
        if quote:
            if quote == "'" and char == "'" and text[i + 1 : i + 2] == "'":
                i += 1  # '' is an escaped quote inside a single-quoted string
            elif quote == '"' and char == "\\":
                i += 1
            elif char == quote:
                quote = None
        elif char in "'\"" and (i == 0 or text[i - 1] in " [{,:"):
            quote = char
        elif char == "#" and (i == 0 or text[i - 1] == " "):
            found.append((i, "#", depth))
            break
        elif char in OPENERS:
            found.append((i, char, depth))
            depth += 1
        elif char in CLOSERS:
            depth -= 1
            found.append((i, char, depth))
        elif char == ",":
            found.append((i, ",", depth))
        i += 1
    return found


def _split_comment(line: str) -> Tuple[str, Optional[str]]:
    for position, char, _ in _scan(line):
        if char == "#":
            return line[:position].rstrip(), line[position:]
    return line, None


def _items(line: str, opener: int) -> Tuple[List[str], int]:
    """The top-level items of the flow collection opening at `opener`, and where it closes."""
    marks = [(p, c, d) for p, c, d in _scan(line) if p > opener]
    base = next(d for p, c, d in _scan(line) if p == opener) + 1
    items, start = [], opener + 1
    for position, char, depth in marks:
        if char == "," and depth == base:
            items.append(line[start:position].strip())
            start = position + 1
        elif char in CLOSERS and depth == base - 1:
            items.append(line[start:position].strip())
            return items, position
    raise ValueError(f"unclosed flow collection: {line!r}")


def _first_opener(text: str) -> Optional[int]:
    return next((p for p, c, d in _scan(text) if c in OPENERS and d == 0), None)


def render(prefix: str, node: str, suffix: str = "") -> List[str]:
    """`prefix + node + suffix` on as many lines as it takes to keep each within WIDTH: the first
    flow collection in `node` is broken between its items, each continuation line starting under
    its first item. Items that are collections start a line of their own (a spaCy token each);
    plain items (words) share lines."""
    line = prefix + node + suffix
    opener = _first_opener(node)
    if len(line) <= WIDTH or opener is None:
        return [line]
    items, close = _items(node, opener)
    closing = node[close:] + suffix
    head = prefix + node[: opener + 1]
    pad = " " * len(head)
    lines: List[str] = []
    current: Optional[str] = None  # the line being packed with plain items
    for index, item in enumerate(items):
        last = index == len(items) - 1
        end = closing if last else ","
        start = head if not lines and current is None else pad
        if item[:1] in OPENERS or _first_opener(item) is not None:
            if current is not None:
                lines.append(current)
                current = None
                start = pad
            lines.extend(render(start, item, end))
        elif current is not None and len(current) + 1 + len(item) + len(end) <= WIDTH:
            current += " " + item + end
        else:
            if current is not None:
                lines.append(current)
                start = pad
            current = start + item + end
    if current is not None:
        lines.append(current)
    return lines


def layout_line(line: str) -> List[str]:
    if len(line) <= WIDTH:
        return [line]
    body, comment = _split_comment(line)
    indent = " " * (len(body) - len(body.lstrip()))
    lines = [indent + comment] if comment else []
    opener = _first_opener(body)
    if opener is None:
        return [line]
    # Split before the first collection's key or anchor so that render sees one node.
    return lines + render(body[:opener], body[opener:])


def _depth_after(line: str) -> int:
    depth = 0
    for _, char, _ in _scan(line):
        depth += 1 if char in OPENERS else -1 if char in CLOSERS else 0
    return depth


def logical_lines(text: str) -> List[str]:
    """The lines of `text`, with a flow collection that spans several lines joined into one (so that
    laying out a file twice gives the same file)."""
    lines = text.split("\n")
    out: List[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        while _depth_after(_split_comment(line)[0]) > 0 and index + 1 < len(lines):
            index += 1
            line = line.rstrip() + " " + lines[index].strip()
        out.append(line)
        index += 1
    return out


def layout(text: str) -> str:
    out: List[str] = []
    for line in logical_lines(text):
        out.extend(layout_line(line))
    return "\n".join(out)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file needs laying out")
    parser.add_argument("files", nargs="*", type=Path, default=PATTERN_FILES)
    args = parser.parse_args(argv)
    untidy = []
    for path in args.files:
        text = path.read_text(encoding="utf-8")
        laid_out = layout(text)
        if laid_out == text:
            continue
        if yaml.safe_load(laid_out) != yaml.safe_load(text):
            print(f"{path}: laying it out would change its data; left as it is", file=sys.stderr)
            return 2
        untidy.append(path)
        if not args.check:
            path.write_text(laid_out, encoding="utf-8")
    for path in untidy:
        print(f"{path}: {'needs laying out' if args.check else 'laid out'}")
    return 1 if args.check and untidy else 0


if __name__ == "__main__":
    sys.exit(main())
