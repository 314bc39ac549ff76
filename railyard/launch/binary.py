"""Which trainer a job runs: a Bazel target, a .pex file, or the development trainer.

    resolve("//workflows:fraud_train")   builds the target and uses bazel-bin/workflows/fraud_train.pex
    resolve("dist/fraud_train.pex")      a trainer binary already built
    resolve("dev")                       `python -m railyard.trainer` from this checkout (no packaging)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import zipfile
import zlib
from collections import Counter
from pathlib import Path

from railyard.binaries.zip_member import read_member
from railyard.buildinfo import build_info, sha256_file
from railyard.errors import UserError
from railyard.launch.job import Binary

DEV = "dev"
REPO = Path(__file__).resolve().parent.parent.parent
_building: Counter[str] = Counter()  # the targets this process is building now
_building_lock = threading.Lock()


def building(target: str) -> bool:
    """Whether this process is building the Bazel target now (a --dev service, for a queued job's status)."""
    with _building_lock:
        return _building[target] > 0


def build_target(target: str) -> Path:
    """The pex of a Bazel target, built in the checkout (on the output root `make` uses: tools/bazel)."""
    package, _, name = target.removeprefix("//").partition(":")
    if not name:
        raise UserError(f"--binary {target}: expected a Bazel target such as //workflows:fraud_train")
    with _building_lock:
        _building[target] += 1
    try:
        build = subprocess.run(["bazel", "build", target], cwd=REPO, capture_output=True, text=True)
    except OSError as exc:
        raise UserError(f"--binary {target}: cannot run bazel: {exc.strerror or exc} (make bazel installs it)") from None
    finally:
        with _building_lock:
            _building[target] -= 1
    if build.returncode != 0:
        raise UserError(f"--binary {target}: bazel build failed:\n{build.stderr[-3000:]}")
    bazel_bin = subprocess.run(["bazel", "info", "bazel-bin"], cwd=REPO, capture_output=True, text=True, check=True)
    return Path(bazel_bin.stdout.strip()) / package / f"{name}.pex"


def resolve(binary: str) -> Binary:
    if binary == DEV:
        return Binary(path=DEV, sha256="", target=None)
    if binary.startswith("//"):
        path = build_target(binary)
        return Binary(path=str(path), sha256=sha256_file(path), target=binary)
    path = Path(binary)
    if not path.is_file():
        raise UserError(f"--binary: {binary} is neither a Bazel target (//pkg:name), a .pex file, nor 'dev'")
    return Binary(path=str(path.resolve()), sha256=sha256_file(path), target=None)


def command(binary: Binary) -> list[str]:
    """The argv prefix that starts this trainer locally."""
    if binary.path == DEV:
        return [sys.executable, "-m", "railyard.trainer"]
    if not os.access(binary.path, os.X_OK):
        return [sys.executable, binary.path]
    return [binary.path]


def stamped_commit(binary: Binary) -> str:
    """The commit stamped into a trainer binary, or this checkout's for `dev`."""
    if binary.path == DEV:
        return build_info()["git_commit"]
    try:
        with open(binary.path, "rb") as file, zipfile.ZipFile(file) as archive:
            return json.loads(read_member(file, archive.getinfo("railyard/_build_info.json")))["git_commit"]
    except (KeyError, TypeError, ValueError, zipfile.BadZipFile, zlib.error, OSError):  # ValueError: BadMember, JSON
        return "unknown"
