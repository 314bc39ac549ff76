"""The repository helpers of the Bazel rules, run as Bazel runs them but without Bazel: the hub
parses a lock into one repository per pin, a package's repository downloads and checks one wheel
and points at its requirements' repositories, and the locks keep test tools out of the binaries."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

RULES = REPO / "rules" / "private"
WHEEL_RULE = "@//rules/private:wheel.bzl"


def pins(lock: Path) -> dict[str, str]:
    text = lock.read_text()
    return {re.sub(r"[-_.]+", "-", m[1]).lower(): m[2] for m in re.finditer(r"^([A-Za-z0-9][\w.-]*)==(\S+)", text, re.M)}


def hub(tmp_path: Path, lock: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(RULES / "wheelhouse.py"), "--lock", str(lock), "--lock-name", lock.name, "--hub", "pypi",
         "--prefix", "pypi_", "--python", "python3.11", "--wheel-repository-rule", "@//rules/private:wheel_repository.bzl",
         "--tools-repository-rule", "@//rules/private:tools_repository.bzl", "--out", str(tmp_path)],
        capture_output=True, text=True,
    )


def test_the_hub_declares_one_repository_per_pin_and_downloads_nothing(tmp_path):
    run = hub(tmp_path, REPO / "requirements.lock")
    assert run.returncode == 0, run.stderr
    requirements = (tmp_path / "requirements.bzl").read_text()
    build = (tmp_path / "BUILD.bazel").read_text()
    locked = pins(REPO / "requirements.lock")
    assert requirements.count("railyard_wheel_repository(\n") == len(locked)
    assert 'name = "pypi_xgboost_cpu",' in requirements and 'name = "pypi__tools",' in requirements
    assert 'alias(name = "xgboost_cpu", actual = "@pypi_xgboost_cpu//:pkg")' in build
    assert 'alias(name = "pex_tool", actual = "@pypi__tools//:pex_tool")' in build
    assert not list(tmp_path.glob("**/*.whl"))


def test_the_hub_needs_pex_in_the_lock(tmp_path):
    lock = tmp_path / "requirements.lock"
    lock.write_text("packaging==26.4 --hash=sha256:" + "0" * 64 + "\n")
    run = hub(tmp_path, lock)
    assert run.returncode == 1
    assert run.stderr.strip() == "railyard_wheelhouse: requirements.lock must pin pex; the rules build every binary with it"


def make_wheel(directory: Path, name: str, version: str, requires: list[str]) -> Path:
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    metadata = "".join([f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                        *(f"Requires-Dist: {r}\n" for r in requires)])
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{name}-{version}.dist-info/METADATA", metadata)
        archive.writestr(f"{name}-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr(f"{name}-{version}.dist-info/RECORD", "")
    return wheel


def fetch(tmp_path: Path, wheels: Path, digest: str, pinned: list[str]) -> subprocess.CompletedProcess:
    out = tmp_path / "repo"
    out.mkdir(exist_ok=True)
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels), "PIP_CONFIG_FILE": os.devnull}
    command = [sys.executable, str(RULES / "wheel_repository.py"), "--project", "railyard-demo", "--version", "1.0",
               "--sha256", digest, "--where", "requirements.lock line 7", "--lock", "requirements.lock",
               "--prefix", "pypi_", "--wheel-rule", WHEEL_RULE, "--out", str(out)]
    for project in pinned:
        command += ["--pinned", project]
    return subprocess.run(command, env=env, capture_output=True, text=True)


@pytest.fixture
def wheels(tmp_path) -> Path:
    directory = tmp_path / "wheels"
    directory.mkdir()
    make_wheel(directory, "railyard_demo", "1.0", ["numpy>=1", "Typing_Extensions", 'pywin32; sys_platform == "win32"',
                                                     'pytest; extra == "test"'])
    return directory


def test_a_package_repository_points_at_its_requirements_on_this_platform(tmp_path, wheels):
    digest = hashlib.sha256((wheels / "railyard_demo-1.0-py3-none-any.whl").read_bytes()).hexdigest()
    run = fetch(tmp_path, wheels, digest, ["railyard-demo", "numpy", "typing-extensions"])
    assert run.returncode == 0, run.stderr
    build = (tmp_path / "repo" / "BUILD.bazel").read_text()
    assert 'wheel = "railyard_demo-1.0-py3-none-any.whl"' in build
    assert re.search(r'deps = \[\s*"@pypi_numpy//:pkg",\s*"@pypi_typing_extensions//:pkg",\s*\]', build), build
    assert "pywin32" not in build and "pytest" not in build


def test_a_wheel_with_another_hash_stops_the_fetch(tmp_path, wheels):
    run = fetch(tmp_path, wheels, "0" * 64, ["railyard-demo", "numpy", "typing-extensions"])
    assert run.returncode == 1
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("railyard_wheel_repository: requirements.lock line 7: railyard-demo==1.0: the downloaded ")
    assert "is not among the lock's hashes for it; refusing to build" in line
    assert not list((tmp_path / "repo").glob("*.whl"))


def test_a_requirement_the_lock_does_not_pin_stops_the_fetch(tmp_path, wheels):
    digest = hashlib.sha256((wheels / "railyard_demo-1.0-py3-none-any.whl").read_bytes()).hexdigest()
    run = fetch(tmp_path, wheels, digest, ["railyard-demo", "numpy"])
    assert run.returncode == 1
    assert run.stderr.strip() == ("railyard_wheel_repository: requirements.lock is not closed: railyard-demo needs "
                                  "typing-extensions, which the lock does not pin")


def test_test_tools_stay_out_of_the_binaries_lock_and_shared_pins_agree():
    binaries, dev = pins(REPO / "requirements.lock"), pins(REPO / "requirements-dev.lock")
    assert not {"pytest", "hypothesis", "kubernetes-validate", "moto", "schemathesis", "selenium"} & set(binaries)
    assert {"pytest", "moto", "selenium"} <= set(dev)
    assert {p: (binaries[p], dev[p]) for p in set(binaries) & set(dev) if binaries[p] != dev[p]} == {}
