"""The README's commands as written: the checkout's `bin/` entries from any directory, and every command its code
blocks show, with its flags. tests/test_first_hour.py runs them, from a fresh clone."""

import os
import re
import shlex
import subprocess

import pytest

from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def shown_commands() -> list[list[str]]:
    """Every `bin/railyard…` command line in the README's code blocks, without its comment or environment."""
    found, in_block = [], False
    for line in README.splitlines():
        if line.startswith("```"):
            in_block = not in_block
        elif in_block and re.match(r"(?:[A-Z_]+=\S+ )*bin/railyard", line):
            words = shlex.split(line.split("  #")[0].replace("…", "x"))
            found.append([w for w in words if not re.fullmatch(r"[A-Z_]+=.*", w)])
    return found


def run(argv: list[str], cwd, **env) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in {**os.environ, **env}.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")})


def test_the_readme_shows_the_service_commands():
    subcommands = {words[1] for words in shown_commands() if words[0] == "bin/railyard"}
    assert {"serve", "token", "publish", "validate", "submit"} <= subcommands


@pytest.mark.parametrize("words", shown_commands(), ids=lambda words: " ".join(words[:2]))
def test_each_command_the_readme_shows_exists_with_its_flags(words, tmp_path):
    """Each command answers --help from outside the checkout, and takes every flag the README gives it."""
    program = str(REPO / words[0])
    first_flag = next((i for i, w in enumerate(words) if w.startswith("-")), len(words))
    helped = run([program, *words[1:first_flag], "--help"], cwd=tmp_path)  # the (sub)command's own help
    assert helped.returncode == 0, helped.stderr
    for flag in (w for w in words if w.startswith("--")):
        assert flag in helped.stdout, f"{' '.join(words)}: --help does not list {flag}"


def test_bin_railyard_runs_from_any_directory_without_an_activated_environment(tmp_path):
    minted = run([str(REPO / "bin" / "railyard"), "token", "new", "--owner", "alice", "--json"], cwd=tmp_path,
                 PATH="/usr/bin:/bin")
    assert minted.returncode == 0, minted.stderr
    assert minted.stdout.lstrip().startswith("{") and '"owner": "alice"' in minted.stdout


def test_bin_entries_work_through_a_link_and_with_cdpath(tmp_path):
    (tmp_path / "rt").symlink_to(REPO / "bin" / "railyard-train")
    (tmp_path / "ry").symlink_to(REPO / "bin" / "railyard")
    for link, program in (("rt", "railyard-train"), ("ry", "railyard")):
        helped = run([str(tmp_path / link), "--help"], cwd=tmp_path, CDPATH=str(tmp_path))
        assert helped.returncode == 0 and helped.stdout.startswith(f"usage: {program} "), helped.stderr
