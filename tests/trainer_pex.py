"""Trainer binaries for the tests: the Bazel-built fraud trainer, and a small genuine pex of the sources alone.

The small one is built by the pex tool from this checkout's `railyard` and
`workflows` sources with stamped build info but no third-party wheels: it is
a Railyard trainer pex by every check publishing makes, quick to build and to
upload, and cannot train (nothing of it runs in the tests that use it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.conftest import REPO

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def build_small_trainer(out: Path, target: str = "//tests:small_train") -> Path:
    with tempfile.TemporaryDirectory(prefix="railyard-small-pex-") as tmp:
        staging = Path(tmp) / "src"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "_build_info.json")
        for package in ("railyard", "workflows"):
            shutil.copytree(REPO / package, staging / package, ignore=ignore)
        stamp = {"git_commit": COMMIT, "git_dirty": False, "target": target, "requirements": [], "source": "stamped"}
        (staging / "railyard" / "_build_info.json").write_text(json.dumps(stamp))
        env = {**os.environ, "PEX_ROOT": str(Path(tmp) / "pex_root")}
        subprocess.run([str(Path(sys.executable).with_name("pex")), "--sources-directory", str(staging),
                        "--entry-point", "railyard.trainer:main", "--venv", "--no-emit-warnings", "--output-file", str(out)],
                       env=env, check=True, capture_output=True)
    return out


def build_fraud_trainer() -> Path:
    """//workflows:fraud_train, built with the output root `make` uses (a no-op when `make demo` built it)."""
    from railyard.launch.binary import build_target

    return build_target("//workflows:fraud_train")
