"""Every relative link in the README and docs/ resolves: the file exists and, for a `#section` link into a
Markdown page, the page has that heading (GitHub's anchor rule: lower case, punctuation dropped, spaces to
hyphens). The README is a short guide that points into docs/ for every figure; a moved page must not strand it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def slug(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {slug(m.group(1)) for m in re.finditer(r"^#+ (.*)$", text, re.M)}


def links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # code blocks hold no links
    return [target for target in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"[a-z]+:", target)]


def test_slug_follows_githubs_anchor_rule():
    assert slug("Evidence faithfulness") == "evidence-faithfulness"
    assert slug("Fused vs single-task (same budget)") == "fused-vs-single-task-same-budget"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target}: no heading #{anchor} in {destination.name}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_readme_is_a_short_guide_that_links_into_docs():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 250
    assert any(target.startswith("docs/") for target in links(ROOT / "README.md"))
