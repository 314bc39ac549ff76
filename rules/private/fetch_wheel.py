"""Download one locked wheel with pip and check it against the lock's sha256 hashes.

Shared by the per-package and the tools repository rules; standard library only.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path


class FetchError(Exception):
    pass


def fail(rule: str, message: str) -> None:
    print(f"{rule}: {message}", file=sys.stderr)
    sys.exit(1)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(python: Path, project: str, version: str, hashes: set[str], where: str, dest: Path) -> Path:
    """The wheel of project==version in `dest`, downloaded by pip (its cache, indexes, find-links and
    config apply) and verified; FetchError naming `where` (the lock and line) otherwise."""
    dest.mkdir(parents=True, exist_ok=True)
    before = set(dest.glob("*.whl"))
    command = [str(python), "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--only-binary=:all:", "--dest", str(dest), f"{project}=={version}"]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        errors = [line for line in run.stderr.splitlines() if line.startswith("ERROR")]
        raise FetchError(f"{where}: {project}=={version}: pip could not download its wheel: "
                         + (" ".join(errors) or run.stderr[-2000:]))
    wheels = sorted(set(dest.glob("*.whl")) - before)
    if len(wheels) != 1:
        raise FetchError(f"{where}: {project}=={version}: expected one wheel from pip, got {[w.name for w in wheels]}")
    wheel = wheels[0]
    digest = sha256(wheel)
    if digest not in hashes:
        wheel.unlink()
        raise FetchError(
            f"{where}: {project}=={version}: the downloaded {wheel.name} has sha256 {digest}, which is not "
            "among the lock's hashes for it; refusing to build (regenerate the lock with `make lock` if the "
            "change is intended)"
        )
    return wheel
