"""The deployment files in deploy/ start commands that exist, and keep secrets off the command line.

No image is built and no unit started here (no Docker engine, no systemd running). Checked instead:

- the command each file starts (the Dockerfile's ENTRYPOINT + CMD, each unit's ExecStart) runs with
  ``--help`` in this environment (exit 0), and every option it passes exists; a broker URL in it is
  one ``actline stream`` accepts;
- the image installs actline with the extras those commands need and runs as a user of its own;
- each unit runs as a dedicated user, restarts on failure, reads an EnvironmentFile that must exist,
  and has no secret on its command line (no ``--token``, no password in a URL) or in ``Environment=``;
- systemd's own checker (``systemd-analyze verify``, where installed) finds nothing wrong but the
  install path that does not exist on this machine;
- the ``docker run`` lines of the deployment docs pass options that exist.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.doc_commands import actline_argv, find_command, shell_lines, subprocess_env, unknown_options

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = sorted(DEPLOY.glob("*.service"))
SECRET = re.compile(r"PASSWORD|TOKEN|SECRET", re.I)


def _dockerfile() -> dict[str, str]:
    """Instruction -> its (last) argument text, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, rest = line.strip().partition(" ")
            if key.upper() == "RUN":  # every RUN, one after the other
                found["RUN"] = found.get("RUN", "") + rest + "\n"
            else:
                found[key.upper()] = rest.strip()
    return found


def _unit(path: Path) -> dict[str, list[str]]:
    """Key -> its values in the [Service] section (systemd allows a key more than once)."""
    section, values = None, {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service":
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def _starts() -> list[tuple[str, list[str]]]:
    docker = _dockerfile()
    starts = [("Dockerfile", json.loads(docker["ENTRYPOINT"]) + json.loads(docker["CMD"]))]
    for unit in UNITS:
        (exec_start,) = _unit(unit)["ExecStart"]
        starts.append((unit.name, shlex.split(exec_start)))
    return starts


def _check_command(where: str, words: list[str]) -> None:
    assert Path(words[0]).name == "actline", f"{where} starts {words[0]}, not actline"
    words = ["actline", *words[1:]]
    found = find_command(words)
    assert found, f"{where}: no such command: {shlex.join(words)}"
    name = found[0].split()[1:]
    proc = subprocess.run(actline_argv(["actline", *name, "--help"]), env=subprocess_env(), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "Usage" in proc.stdout, f"{where}: actline {' '.join(name)} --help failed"
    assert not unknown_options(words), f"{where}: no such option(s) {unknown_options(words)}"
    assert "--token" not in words, f"{where}: the token goes in ACTLINE_TOKEN, not on the command line"
    for i, w in enumerate(words[:-1]):
        if w == "--mqtt":
            from actline.apps.stream.mqtt import parse_broker_url

            parse_broker_url(words[i + 1])  # refuses a password in the URL, a bad pattern or port


@pytest.mark.parametrize("where,words", _starts(), ids=lambda x: x if isinstance(x, str) else "")
def test_each_deployment_starts_a_command_that_exists(where, words):
    _check_command(where, words)


def test_the_image_installs_the_extras_its_commands_need_and_runs_as_its_own_user():
    docker = _dockerfile()
    extras = re.search(r"pip install [^\n]*'\.\[([\w,]+)\]'", docker["RUN"])
    assert extras and set(extras.group(1).split(",")) == {"runtime", "serve", "mqtt"}
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert all(re.search(rf"^{e} = \[", pyproject, re.M) for e in ("runtime", "serve", "mqtt"))
    assert docker["USER"] not in ("root", "0") and "useradd" in docker["RUN"] and docker["USER"] in docker["RUN"]
    assert docker["STOPSIGNAL"] == "SIGINT", "the stream saves its state on Ctrl-C"
    assert not SECRET.search(docker.get("ENV", "")), "no secret baked into the image"


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_each_unit_runs_as_its_own_user_restarts_and_reads_secrets_from_a_file(unit):
    values = _unit(unit)
    assert values["User"][0] not in ("root", "0") and values["Group"] == values["User"]
    assert values["Restart"] == ["on-failure"]
    (env_file,) = values["EnvironmentFile"]
    assert env_file.startswith("/"), "the file must exist ('-' would start the service without its secrets)"
    assert not [v for v in values.get("Environment", []) if SECRET.search(v)], "secrets only in the EnvironmentFile"
    (exec_start,) = values["ExecStart"]
    assert not SECRET.search(exec_start), f"{unit.name}: a secret on the command line"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_finds_nothing_wrong_with_the_units(unit):
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True,
                          timeout=60)
    exe = shlex.split(_unit(unit)["ExecStart"][0])[0]
    problems = [x for x in (proc.stdout + proc.stderr).splitlines()
                if x.strip() and f"Command {exe} is not executable" not in x]
    assert not problems, "\n".join(problems)


def test_the_docker_lines_of_the_deployment_docs_pass_options_that_exist():
    """`docker run [docker options] IMAGE [actline command]`: the part after the image is an actline command."""
    text = (ROOT / "docs" / "deployment.md").read_text(encoding="utf-8")
    lines = [w for w in shell_lines(text) if w[:2] == ["docker", "run"]]
    tag = next(w[w.index("-t") + 1] for w in shell_lines(text) if w[:2] == ["docker", "build"])
    assert lines, "the deployment docs show how to run the image"
    for words in lines:
        rest = words[words.index(tag) + 1:]
        if rest:
            _check_command("docs/deployment.md", ["actline", *rest])
