"""Where the running trainer came from: git commit, dirty flag, build target, binary hash.

A packaged trainer carries `railyard/_build_info.json`, written at build time
from the stamped workspace status. Run from a git checkout, the checkout's own
HEAD is reported. Anything else reports `unknown`, never a guessed commit.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

UNKNOWN = "unknown"
LIBRARIES = ("numpy", "pandas", "pyarrow", "sklearn", "xgboost", "torch", "lightgbm", "fasttext", "prophet")
_EMBEDDED = Path(__file__).with_name("_build_info.json")


def _from_checkout() -> dict | None:
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return {"git_commit": head.stdout.strip(), "git_dirty": bool(status.stdout.strip()), "source": "checkout"}


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """The versions of the libraries that shape a model, as far as this process has loaded them: what a replay
    compares (read from the loaded modules: asking the installed distributions costs a scan of every path)."""
    found = {}
    for name in LIBRARIES:
        version = getattr(sys.modules.get(name), "__version__", None)
        if isinstance(version, str):
            found[name] = version
    return found


@functools.cache
def build_info() -> dict:
    info = {"git_commit": UNKNOWN, "git_dirty": None, "target": None, "requirements": [], "source": "unstamped"}
    if _EMBEDDED.exists():
        info.update(json.loads(_EMBEDDED.read_text()))
    else:
        info.update(_from_checkout() or {})
    binary = os.environ.get("PEX")
    info["binary_sha256"] = sha256_file(binary) if binary and os.path.isfile(binary) else None
    return info
