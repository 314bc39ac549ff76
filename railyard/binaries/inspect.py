"""Read a trainer pex without running it: its stamped build info and the modules it carries.

A pex is a zip file. A Railyard trainer carries `PEX-INFO` (pex's own
metadata, naming the entry point) and `railyard/_build_info.json` (stamped by
the `railyard_pex` rule: git commit, dirty flag, Bazel target, locked
requirements). Only the zip's directory and those two small members are read.
"""

from __future__ import annotations

import functools
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from railyard.errors import UserError

BUILD_INFO = "railyard/_build_info.json"
ENTRY_POINT = "railyard.trainer"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_MEMBER_LIMIT = 1 << 20
_NOT_SOURCES = (".deps/", "__pex__/", ".bootstrap/", ".prereqs/")


class NotATrainer(UserError):
    """The file is not a Railyard trainer pex."""


@dataclass(frozen=True)
class BuildInfo:
    name: str
    target: str
    git_commit: str
    git_dirty: bool | None
    requirements: list[str]


def _member(archive: zipfile.ZipFile, name: str) -> dict:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise NotATrainer(f"it has no {name}: build it with a railyard_trainer Bazel target") from None
    if info.file_size > _MEMBER_LIMIT:
        raise NotATrainer(f"its {name} is {info.file_size} bytes, more than a stamp can be")
    try:
        value = json.loads(archive.read(info))
    except ValueError as exc:
        raise NotATrainer(f"its {name} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise NotATrainer(f"its {name} is not a JSON object")
    return value


def build_info(path: str | Path) -> BuildInfo:
    """The stamped build info of a trainer pex; NotATrainer names what is missing or wrong."""
    try:
        with zipfile.ZipFile(path) as archive:
            pex_info = _member(archive, "PEX-INFO")
            stamp = _member(archive, BUILD_INFO)
    except (zipfile.BadZipFile, OSError) as exc:
        raise NotATrainer(f"not a pex (a zip file): {exc}") from None
    entry_point = str(pex_info.get("entry_point") or "")
    if entry_point.split(":")[0] != ENTRY_POINT:
        raise NotATrainer(f"its entry point is {entry_point!r}, not {ENTRY_POINT}")
    target, commit = stamp.get("target"), stamp.get("git_commit")
    requirements, dirty = stamp.get("requirements", []), stamp.get("git_dirty")
    name = target.rpartition(":")[2] if isinstance(target, str) else ""
    if not isinstance(target, str) or not target.startswith("//") or not NAME.match(name):
        raise NotATrainer(f"its stamped target {target!r} is not a Bazel target such as //workflows:fraud_train")
    if not isinstance(commit, str) or not isinstance(requirements, list) or dirty not in (True, False, None):
        raise NotATrainer("its build info lacks git_commit, git_dirty or requirements")
    return BuildInfo(name=name, target=target, git_commit=commit[:64], git_dirty=dirty, requirements=[str(r) for r in requirements])


@functools.lru_cache(maxsize=64)
def source_modules(path: str) -> frozenset[str]:
    """Dotted names of the Python modules and packages among the pex's own sources (not its dependencies)."""
    modules = set()
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if not name.endswith(".py") or name.startswith(_NOT_SOURCES) or "/" not in name and name == "__main__.py":
                continue
            parts = name[:-3].split("/")
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts:
                modules.add(".".join(parts))
    return frozenset(modules)
