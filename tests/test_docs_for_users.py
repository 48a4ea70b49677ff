"""The docs are written for users: no development log (issue numbers, commit hashes, "this
machine"), and their Markdown renders as meant (every table row inside its table, every
numbered list numbered in order)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", ROOT / "CHANGELOG.md", *DOCS]
IDS = [str(p.relative_to(ROOT)) for p in PAGES]


def _prose(page: Path) -> list[tuple[int, str]]:
    """The page's lines outside code blocks, numbered from 1."""
    lines, fenced = [], False
    for number, line in enumerate(page.read_text().splitlines(), start=1):
        if line.startswith("```"):
            fenced = not fenced
            continue
        if not fenced:
            lines.append((number, line))
    return lines


#: for contributors, not users: it may name the issues its open questions wait on
CONTRIBUTORS = {ROOT / "docs" / "testing.md"}
USERS = [p for p in PAGES if p not in CONTRIBUTORS]


@pytest.mark.parametrize("page", USERS, ids=[str(p.relative_to(ROOT)) for p in USERS])
def test_no_development_log(page):
    log = re.compile(
        r"\bissues? #?\d+|\bthis (project's )?(shared )?machine\b|\bcommit [0-9a-f]{7}"
    )
    found = [f"{n}: {line}" for n, line in _prose(page) if log.search(line)]
    assert found == []


@pytest.mark.parametrize("page", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_no_commit_hashes_in_the_docs(page):
    # a bare abbreviated hash (7 to 40 hex digits, letters and digits both) in the text
    sha = re.compile(r"(?<![\w.-])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,40}(?![\w-])")
    found = [f"{n}: {line}" for n, line in _prose(page) if sha.search(line)]
    assert found == []


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_every_table_row_is_inside_a_table(page):
    lines = _prose(page)
    problems = []
    for i, (number, line) in enumerate(lines):
        if not line.startswith("|"):
            continue
        before = lines[i - 1][1] if i else ""
        after = lines[i + 1][1] if i + 1 < len(lines) else ""
        starts_table = not before.startswith("|")
        if starts_table and not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", after.strip()):
            problems.append(f"{number}: a row with no table header above it: {line[:60]}")
    assert problems == []


@pytest.mark.parametrize("page", PAGES, ids=IDS)
def test_numbered_lists_count_in_order(page):
    problems, last = [], 0
    for number, line in _prose(page):
        item = re.match(r"(\d+)\. ", line)
        if item:
            if int(item.group(1)) != last + 1:
                problems.append(f"{number}: item {item.group(1)} after item {last}")
            last = int(item.group(1))
        elif line and not line.startswith(" "):
            last = 0  # a paragraph, a heading, a table: the list is over
    assert problems == []
