"""The pages users read speak their words, not the project's notebook.

User pages are every page of docs/ but the three that hold the method and the history
(methodology.md, design-notes.md, changelog.md), plus the README and the ``--help`` of every command
and group (walked from the command tree, so a new command is checked without being listed here).
On them, none of the development words below: no "tuning sets" or "reporting sets" (say what a
user gets), no "rule written first", no "the earlier system" or "the issue", no file outside the
repository, no commit, no release-by-release history ("as 0.4.0 did": that is the changelog's).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from actline.cli import app
from actline.cli.tree import root_context

ROOT = Path(__file__).resolve().parents[1]
NOT_USER_PAGES = {"methodology.md", "design-notes.md", "changelog.md"}
USER_PAGES = sorted([ROOT / "README.md", *(p for p in (ROOT / "docs").rglob("*.md") if p.name not in NOT_USER_PAGES)])


def _releases() -> list[str]:
    """actline's released versions, from the changelog's headings (## 0.5.0 (date))."""
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    return re.findall(r"^## (\d+\.\d+\.\d+)\b", text, flags=re.M)


FORBIDDEN = {
    r"\btuning (?:data )?sets?\b": "tuning sets (say what the user gets; the method is on methodology.md)",
    r"\breporting sets?\b": "reporting sets (name the data: 'ten synthetic data sets', 'seeds 0-9')",
    r"\brules? written\b": "a rule written first (development process)",
    r"\bearlier (?:\w+ )?system\b": "the earlier system (say 'a SlowFast R50 set-up', 'a per-step MLP', ...)",
    r"\bthe issue\b": "the issue (development process)",
    r"\b(?:CONVENTIONS|EVALUATION|DESIGN)\.md\b": "a file outside the repository",
    r"\.\./shared\b": "a path outside the repository (write a placeholder such as NAGOYA)",
    r"\bcommit `?[0-9a-f]{7,40}\b": "a commit hash",
    r"(?<![0-9a-f])[0-9a-f]{40}(?![0-9a-f])": "a commit hash",
    r"\bas (?:in )?v?\d+\.\d+(?:\.\d+)? did\b": "version-by-version history (the changelog's)",
}


def _patterns() -> dict[re.Pattern, str]:
    found = {re.compile(p, re.I): why for p, why in FORBIDDEN.items()}
    for version in _releases():
        found[re.compile(rf"(?<![\w.]){re.escape(version)}(?![\w.]|\.\d)")] = f"a release number ({version}): history is the changelog's"
    return found


PATTERNS = _patterns()


def _offences(text: str) -> list[str]:
    hits = []
    for n, line in enumerate(text.splitlines(), 1):
        for pattern, why in PATTERNS.items():
            for m in pattern.finditer(line):
                hits.append(f"line {n}: {m.group(0)!r}: {why}")
    return hits


def test_the_patterns_catch_what_they_should():
    assert len(_releases()) >= 4  # 0.2.0 ... 0.5.0
    for bad in ("on the tuning sets", "five reporting sets", "a rule written first", "the earlier system's input",
                "the earlier SlowFast system's data", "the issue's goal", "see CONVENTIONS.md", "../shared/data/nagoya",
                "commit be2b83b shows it", "trains one network, as 0.4.0 did", f"since {_releases()[-1]}"):
        assert _offences(bad), bad
    for fine in ("torch==2.14.1 torchvision==0.29.1", "the id 20250601T101500-0a1b2c3d", "r3d_18-b3b3357e.pth",
                 "a threshold of 0.5", "`--data NAGOYA`", "see the issues on GitHub"):
        assert not _offences(fine), fine


@pytest.mark.parametrize("page", USER_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_user_pages_use_users_words(page):
    hits = _offences(page.read_text(encoding="utf-8"))
    assert not hits, f"{page.relative_to(ROOT)}:\n" + "\n".join(hits)


def _all_command_paths() -> list[list[str]]:
    """Every command and group below ``actline``, as the words after it ([] is ``actline`` itself)."""
    ctx = root_context()
    paths = []

    def walk(group, prefix):
        paths.append(prefix)
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            if hasattr(cmd, "list_commands"):
                walk(cmd, [*prefix, name])
            else:
                paths.append([*prefix, name])

    walk(ctx.command, [])
    return paths


def _unwrapped(help_text: str) -> str:
    """Help as one line: rich's panel borders dropped and wrapped lines joined, so that a phrase broken
    across two lines of a panel is still found."""
    return " ".join(re.sub(r"[│╭╮╰╯─┃━]", " ", help_text).split())


def test_help_uses_users_words():
    paths = _all_command_paths()
    assert len(paths) > 20 and ["data"] in paths and ["synth-video"] in paths
    runner = CliRunner()
    bad = []
    for words in paths:
        result = runner.invoke(app, [*words, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, (words, result.output)
        hits = _offences(_unwrapped(result.output))
        if hits:
            bad.append(f"actline {' '.join(words)} --help:\n  " + "\n  ".join(hits))
    assert not bad, "\n".join(bad)
