"""A trainer's first run: unpacked once per PEX_ROOT, safely when killed or raced, pex's own bootstrap kept."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from railyard.buildinfo import sha256_file

pytestmark = pytest.mark.slow


def build_info(pex: Path, pex_root: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(pex), "--build-info"], env={**os.environ, "PEX_ROOT": str(pex_root), **env},
                          capture_output=True, text=True, timeout=300)


def pex_hash(pex: Path) -> str:
    with zipfile.ZipFile(pex) as archive:
        return json.loads(archive.read("PEX-INFO"))["pex_hash"]


def leftovers(pex_root: Path) -> list[Path]:
    return [p for p in pex_root.rglob(".tmp-*")]


def test_first_run_unpacks_once_then_starts_from_the_virtualenv(fraud_pex, tmp_path):
    root = tmp_path / "pex_root"
    first = build_info(fraud_pex, root)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["binary_sha256"] == sha256_file(fraud_pex)
    [venv] = (root / "railyard" / "venvs" / pex_hash(fraud_pex)).iterdir()
    assert (venv / "bin" / "python").exists()
    with zipfile.ZipFile(fraud_pex) as archive:
        wheels = {n for n in json.loads(archive.read("PEX-INFO"))["distributions"]}
    assert {p.name for p in (root / "railyard" / "wheels").glob("*/*")} == wheels
    assert not leftovers(root)

    def unpacked() -> list[tuple[str, int]]:
        return sorted((str(p), p.stat().st_ino) for p in [venv, *(root / "railyard" / "wheels").glob("*/*")])

    before = unpacked()
    again = build_info(fraud_pex, root)
    assert again.returncode == 0 and again.stdout == first.stdout
    assert unpacked() == before


def test_a_first_run_compiles_nothing_it_imports(fraud_pex, tmp_path):
    """Every module `--build-info` imports, the wheels' and railyard's, comes compiled in the binary."""
    root = tmp_path / "pex_root"
    run = build_info(fraud_pex, root)
    assert run.returncode == 0, run.stderr
    assert not list(root.rglob("__pycache__")), "modules were compiled on the first run"


def test_simultaneous_first_runs_all_succeed(fraud_pex, tmp_path):
    root = tmp_path / "pex_root"
    env = {**os.environ, "PEX_ROOT": str(root)}
    runs = [subprocess.Popen([str(fraud_pex), "--build-info"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(3)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], [err.decode()[-2000:] for _, err in outputs]
    assert len({out for out, _ in outputs}) == 1
    assert len(list((root / "railyard" / "venvs").glob("*/*"))) == 1
    assert not leftovers(root)


def test_a_first_run_killed_while_unpacking_leaves_nothing_that_looks_complete(fraud_pex, tmp_path):
    root = tmp_path / "pex_root"
    run = subprocess.Popen([str(fraud_pex), "--build-info"], env={**os.environ, "PEX_ROOT": str(root)},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not leftovers(root) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    assert leftovers(root), "the first run finished before it could be killed"
    assert not list((root / "railyard" / "venvs").glob(f"{pex_hash(fraud_pex)}/[!.]*"))

    again = build_info(fraud_pex, root)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["binary_sha256"] == sha256_file(fraud_pex)


def test_other_pex_settings_run_through_pex_own_bootstrap(fraud_pex, tmp_path):
    root = tmp_path / "pex_root"
    run = build_info(fraud_pex, root, PEX_VERBOSE="0")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["binary_sha256"] == sha256_file(fraud_pex)
    assert (root / "installed_wheels").is_dir() and not (root / "railyard").exists()


def test_an_unwritable_pex_root_still_runs(fraud_pex, tmp_path):
    not_a_directory = tmp_path / "pex_root"
    not_a_directory.write_text("")
    run = build_info(fraud_pex, not_a_directory, TMPDIR=str(tmp_path))  # pex's fallback root goes under TMPDIR
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["binary_sha256"] == sha256_file(fraud_pex)


def test_wheels_removed_from_under_the_virtualenv_are_unpacked_again(fraud_pex, tmp_path):
    root = tmp_path / "pex_root"
    first = build_info(fraud_pex, root)
    assert first.returncode == 0, first.stderr
    shutil.rmtree(root / "railyard" / "wheels")  # a cache cleaner that kept the virtualenvs
    again = build_info(fraud_pex, root)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout == first.stdout


def other_python() -> str | None:
    """A CPython of another minor version than the binaries' 3.11, if one runs here."""
    for version in ("3.12", "3.13", "3.10"):
        found = shutil.which(f"python{version}")
        if found and subprocess.run([found, "-c", "pass"], capture_output=True).returncode == 0:
            return found
    return None


def test_another_python_version_runs_through_pex_own_bootstrap(fraud_pex, tmp_path):
    python = other_python()
    if python is None:
        pytest.skip("no Python other than 3.11 on PATH")
    run = subprocess.run([python, str(fraud_pex), "--build-info"], env={**os.environ, "PEX_ROOT": str(tmp_path / "pex_root")},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout)["binary_sha256"] == sha256_file(fraud_pex)
