"""Which trainer a request runs: a published binary by reference, or, under `serve --dev`, anything runnable.

A published binary is named `NAME`, `NAME@sha256:HEX` or `sha256:HEX` and is
resolved when the job is accepted, so the job records exactly which bytes it
runs. Its `workflow_modules` must be modules inside that binary, outside the
`railyard` package itself. Only a
service started with `--dev` (loopback, no tokens) also takes Bazel targets,
`.pex` paths, executables and `dev`, resolved when the job is dispatched.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from railyard.api.problems import Unprocessable
from railyard.api.store import binaries as published
from railyard.binaries.inspect import source_modules
from railyard.binaries.reference import FORMS, BadReference, parse
from railyard.binaries.store import BinaryStore
from railyard.launch import binary as dev_binaries


@dataclass(frozen=True)
class ChosenBinary:
    reference: str
    sha256: str | None = None
    git_commit: str | None = None
    path: str | None = None  # None: a --dev binary, resolved at dispatch


def _unprocessable(message: str, *where) -> Unprocessable:
    return Unprocessable(message, loc=("body", *(where or ("binary",))))


def choose(session: Session, store: BinaryStore, text: str, workflow_modules: list[str], *, dev: bool) -> ChosenBinary:
    try:
        reference = parse(text)
    except BadReference:
        if dev:
            return ChosenBinary(reference=text)
        raise
    binary = published.find(session, reference=reference)
    if binary is None or not store.has(binary.sha256):
        if dev:
            return ChosenBinary(reference=text)
        raise _unprocessable(f"no published binary {text}; publish one with `railyard publish`, then name it as {FORMS}")
    path = store.path(binary.sha256)
    inside = source_modules(str(path))
    for i, module in enumerate(workflow_modules):
        if module not in inside or module.split(".")[0] == "railyard":
            raise _unprocessable(f"{module!r} is not a workflow module inside {binary.name}@sha256:{binary.sha256[:12]}…",
                                 "workflow_modules", i)
    return ChosenBinary(reference=f"{binary.name}@sha256:{binary.sha256}", sha256=binary.sha256,
                        git_commit=binary.git_commit, path=str(path))


def trainer_command(chosen: ChosenBinary) -> list[str]:
    """The argv prefix that runs the chosen trainer here (a --dev target is built first)."""
    if chosen.path is not None:
        return [chosen.path]
    return dev_binaries.command(dev_binaries.resolve(chosen.reference))
