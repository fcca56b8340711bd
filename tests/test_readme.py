"""The README's links into the documentation lead somewhere.

``mkdocs build --strict`` (run by ``make test``) checks every link inside ``docs/``; the README is
outside the site, so its relative links, and their ``#anchors``, are checked here: an anchor must
be the slug of a heading of the page it points to (Python-Markdown's slugify, what the site uses;
GitHub's agrees for these headings).
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _links():
    for target in LINK.findall((ROOT / "README.md").read_text(encoding="utf-8")):
        if not re.match(r"[a-z]+://|#|mailto:", target):
            yield target


def _slugs(page: Path) -> set[str]:
    from markdown.extensions.toc import slugify

    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {slugify(h.replace("`", "").strip(), "-") for h in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def test_readme_links_point_to_files_and_headings():
    pytest.importorskip("markdown", reason="Markdown (the docs extra) is not installed")
    links = list(_links())
    assert links, "the README links into docs/"
    bad = []
    for link in links:
        path, _, anchor = link.partition("#")
        page = ROOT / path
        if not page.exists():
            bad.append(f"{link}: no such file")
        elif anchor and anchor not in _slugs(page):
            bad.append(f"{link}: no heading with that anchor in {path}")
    assert not bad, "broken README links:\n" + "\n".join(bad)
