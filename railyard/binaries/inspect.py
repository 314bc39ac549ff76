"""Read a trainer pex without running it: its stamped build info and the modules it carries.

A pex is a `#!` line that runs Python followed by a zip file. A Railyard
trainer's zip carries pex's own `__main__.py` and `PEX-INFO` (naming the entry
point) and `railyard/_build_info.json` (stamped by the `railyard_pex` rule: git
commit, dirty flag, Bazel target, locked requirements). Only the first line,
the zip's directory and the two small JSON members are read, each inflated to
at most `MAX_MEMBER_BYTES` whatever the zip declares (railyard.binaries.zip_member).
"""

from __future__ import annotations

import functools
import json
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from railyard.binaries.zip_member import BadMember, read_member
from railyard.errors import UserError

BUILD_INFO = "railyard/_build_info.json"
ENTRY_POINT = "railyard.trainer:main"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
TARGET = re.compile(r"//[A-Za-z0-9_.\-/]*:[A-Za-z0-9_.\-]{1,128}")
COMMIT = re.compile(r"[0-9a-f]{40}|unknown")
SHEBANG = re.compile(rb"#!(?:/usr/bin/env python3|(?:/[A-Za-z0-9_.+-]+)+/python3)(?:\.[0-9]+)?\n")
SHEBANG_BYTES = 256  # the most of a #! line Linux reads
MAX_ENTRIES = 100_000  # the fraud trainer has 446
MAX_DIRECTORY_BYTES = 32 * 2**20  # the fraud trainer's is 39 KiB
MAX_UNCOMPRESSED_BYTES = 8 * 2**30
MAX_REQUIREMENTS = 2_000
MAX_REQUIREMENT_CHARS = 512
_NOTHING_ADDED = ("script", "pex_path", "pex_paths", "inject_args", "inject_python_args", "inject_env")
_NOT_SOURCES = (".deps/", "__pex__/", ".bootstrap/", ".prereqs/", ".railyard/")
_BOOT = ("__main__.py", "__pex_main__.py")  # railyard's boot and pex's own


class NotATrainer(UserError):
    """The file is not a Railyard trainer pex."""


@dataclass(frozen=True)
class BuildInfo:
    name: str
    target: str
    git_commit: str
    git_dirty: bool | None
    requirements: list[str]


def _shown(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _shebang(file) -> int:
    """The length of the file's `#!` line, which must run Python 3; the zip must start right after it."""
    head = file.read(SHEBANG_BYTES)
    line = head[:head.find(b"\n") + 1] or head
    if not SHEBANG.fullmatch(line):
        raise NotATrainer(f"its first line {_shown(line)} is not a #! line that runs python3, such as #!/usr/bin/env python3.11")
    file.seek(len(line))
    if file.read(4) != b"PK\x03\x04":
        raise NotATrainer("no zip follows its #! line")
    return len(line)


def _check_directory(file) -> None:
    """Refuse a zip directory too large to read, before zipfile reads it all into memory."""
    end = zipfile._EndRecData(file)  # the end record, exactly as zipfile.ZipFile finds it
    if end is None:
        raise NotATrainer("not a pex (a zip file): its zip has no end of central directory")
    if end[zipfile._ECD_ENTRIES_TOTAL] > MAX_ENTRIES:
        raise NotATrainer(f"its zip has {end[zipfile._ECD_ENTRIES_TOTAL]} entries, more than {MAX_ENTRIES}")
    if end[zipfile._ECD_SIZE] > MAX_DIRECTORY_BYTES:
        raise NotATrainer(f"its zip directory is {end[zipfile._ECD_SIZE]} bytes, more than {MAX_DIRECTORY_BYTES}")


def _check_entries(archive: zipfile.ZipFile, start: int) -> None:
    entries = archive.infolist()
    if len(entries) > MAX_ENTRIES:
        raise NotATrainer(f"its zip has {len(entries)} entries, more than {MAX_ENTRIES}")
    if min((e.header_offset for e in entries), default=None) != start:
        raise NotATrainer("its zip does not start right after its #! line")
    total = sum(e.file_size for e in entries)
    if total > MAX_UNCOMPRESSED_BYTES:
        raise NotATrainer(f"its members add up to {total} bytes uncompressed, more than {MAX_UNCOMPRESSED_BYTES} (8 GiB)")
    if len(archive.NameToInfo) != len(entries):
        raise NotATrainer("its zip lists a member name more than once")
    for name in ("__main__.py", "PEX-INFO", BUILD_INFO):
        if name not in archive.NameToInfo:
            raise NotATrainer(f"it has no {name}: build it with a railyard_trainer Bazel target")


def _member(file, archive: zipfile.ZipFile, name: str) -> dict:
    try:
        data = read_member(file, archive.getinfo(name))
    except BadMember as exc:
        raise NotATrainer(f"its {exc}") from None
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise NotATrainer(f"its {name} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise NotATrainer(f"its {name} is not a JSON object")
    return value


def _check_pex_info(pex_info: dict) -> None:
    entry_point = pex_info.get("entry_point")
    if entry_point != ENTRY_POINT:
        raise NotATrainer(f"its entry point is {_shown(entry_point)}, not {ENTRY_POINT}")
    for key in _NOTHING_ADDED:
        if pex_info.get(key):
            raise NotATrainer(f"its PEX-INFO sets {key} to {_shown(pex_info[key])}: a trainer pex runs its entry point and nothing else")


def _requirements_ok(requirements) -> bool:
    return isinstance(requirements, list) and len(requirements) <= MAX_REQUIREMENTS and all(
        isinstance(r, str) and len(r) <= MAX_REQUIREMENT_CHARS and r.isprintable() for r in requirements)


def _stamp(stamp: dict) -> BuildInfo:
    target, commit = stamp.get("target"), stamp.get("git_commit")
    requirements, dirty = stamp.get("requirements", []), stamp.get("git_dirty")
    if not isinstance(target, str) or not TARGET.fullmatch(target) or not NAME.fullmatch(target.rpartition(":")[2]):
        raise NotATrainer(f"its stamped target {_shown(target)} is not a Bazel target such as //workflows:fraud_train")
    if not isinstance(commit, str) or not COMMIT.fullmatch(commit):
        raise NotATrainer(f"its stamped git_commit {_shown(commit)} is not 40 lowercase hex characters or 'unknown'")
    if dirty is not None and not isinstance(dirty, bool):
        raise NotATrainer(f"its stamped git_dirty {_shown(dirty)} is not true, false or null")
    if not _requirements_ok(requirements):
        raise NotATrainer(f"its stamped requirements are not a list of at most {MAX_REQUIREMENTS} printable strings "
                          f"of at most {MAX_REQUIREMENT_CHARS} characters each")
    return BuildInfo(name=target.rpartition(":")[2], target=target, git_commit=commit, git_dirty=dirty, requirements=requirements)


def build_info(path: str | Path) -> BuildInfo:
    """The stamped build info of a trainer pex; NotATrainer names what is missing or wrong."""
    try:
        with open(path, "rb") as file:
            start = _shebang(file)
            _check_directory(file)
            with zipfile.ZipFile(file) as archive:
                _check_entries(archive, start)
                pex_info, stamp = _member(file, archive, "PEX-INFO"), _member(file, archive, BUILD_INFO)
    except NotATrainer:
        raise
    # RuntimeError: encrypted or unsupported; ValueError: a member name flagged UTF-8 that is not
    except (zipfile.BadZipFile, zlib.error, RuntimeError, OSError, EOFError, ValueError) as exc:
        raise NotATrainer(f"not a pex (a zip file): {exc}") from None
    _check_pex_info(pex_info)
    return _stamp(stamp)


@functools.lru_cache(maxsize=64)
def source_modules(path: str) -> frozenset[str]:
    """Dotted names of the Python modules and packages among the pex's own sources (not its dependencies)."""
    modules = set()
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if not name.endswith(".py") or name.startswith(_NOT_SOURCES) or name in _BOOT:
                continue
            parts = name[:-3].split("/")
            if parts[-1] == "__init__":
                parts = parts[:-1]
            if parts:
                modules.add(".".join(parts))
    return frozenset(modules)
