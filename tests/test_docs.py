"""The README and docs/: links resolve, the example lessons load, the README stays short and keeps CI's
command, and nothing points outside the repository."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from genstudio.config import LESSON_PRESETS
from genstudio.lessons import load_lesson

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"```.*?```", re.S)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped (but - and _), spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(md: Path) -> set[str]:
    text = FENCE.sub("", md.read_text(encoding="utf-8"))
    return {slug(m) for m in re.findall(r"^#+\s+(.*)$", text, re.M)}


@pytest.mark.parametrize("md", DOCS, ids=lambda p: p.name)
def test_relative_links_resolve(md):
    text = FENCE.sub("", md.read_text(encoding="utf-8"))
    for target in LINK.findall(text):
        if re.match(r"(https?|mailto):", target):
            continue
        path, _, anchor = target.partition("#")
        file = (md.parent / path).resolve() if path else md
        assert file.exists(), f"{md.name}: link to {target} (no such file)"
        if anchor and file.suffix == ".md":
            assert anchor in anchors(file), f"{md.name}: link to {target} (no such heading)"


def test_example_lessons_load(tmp_path):
    blocks = re.findall(r"```json\n(.*?)```", (ROOT / "docs" / "lessons.md").read_text(encoding="utf-8"), re.S)
    lessons = [b for b in blocks if {"format", "steps"} <= json.loads(b).keys()]
    assert len(lessons) >= 2
    for i, block in enumerate(lessons):
        path = tmp_path / f"example{i}.json"
        path.write_text(block, encoding="utf-8")
        assert load_lesson(path).steps


def test_every_lesson_preset_is_documented():
    text = (ROOT / "docs" / "lessons.md").read_text(encoding="utf-8")
    for family, presets in LESSON_PRESETS.items():
        for preset in presets:
            assert f"`{family}:{preset.name}`" in text


def test_readme_is_short_and_keeps_ci_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    ci_command = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert ci_command in readme
    assert ("python3 -m venv .venv && . .venv/bin/activate && pip install -c constraints.txt -e . && genstudio\n"
            in readme)


@pytest.mark.parametrize("md", DOCS, ids=lambda p: p.name)
def test_nothing_outside_the_repository(md):
    text = md.read_text(encoding="utf-8")
    assert "shared/" not in text and "REFERENCE.md" not in text
    for target in LINK.findall(text):
        if not re.match(r"(https?|mailto):", target):
            assert os.path.commonpath([ROOT, (md.parent / target.partition("#")[0]).resolve()]) == str(ROOT)
