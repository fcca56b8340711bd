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


def _results_rows() -> list[list[str]]:
    """The README's Results table, one list of cells per row (header included, the |---| line not)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Results\n(.*?)(?=^## )", text, flags=re.M | re.S)
    assert section, "the README has a Results section"
    rows = [line for line in section.group(1).splitlines() if line.startswith("|")]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", row.strip().strip("|"))] for row in rows if not re.match(r"\|[-:| ]+\|$", row)]


def test_readme_results_cells_are_short():
    """One figure per cell, its baselines beside it: a cell over 120 characters is a paragraph, which belongs on
    the results page."""
    rows = _results_rows()
    assert len(rows) >= 5 and all(len(r) == len(rows[0]) for r in rows), "a table with one row per result"
    long = [f"row {i}: {len(c)} characters: {c[:60]}..." for i, row in enumerate(rows) for c in row if len(c) > 120]
    assert not long, "README Results cells over 120 characters:\n" + "\n".join(long)
    assert all(row[-1] for row in rows[1:]), "every result names the command that made it"


def test_makefile_points_to_sections_that_exist():
    """The Makefile's comments that send a reader to a page and a section (docs/x.md, "Heading"; README, "Heading")
    name a heading that is there."""
    pytest.importorskip("markdown", reason="Markdown (the docs extra) is not installed")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    refs = re.findall(r"(README(?:\.md)?|docs/[\w/-]+\.md),? (?:section )?\"([^\"]+)\"", makefile)
    assert refs, "the Makefile points to the installing section"
    from markdown.extensions.toc import slugify

    for page, heading in refs:
        path = ROOT / (page if page.endswith(".md") else page + ".md")
        assert path.exists(), f"Makefile: {page} does not exist"
        assert slugify(heading.replace("`", ""), "-") in _slugs(path), f"Makefile: no section {heading!r} in {page}"
