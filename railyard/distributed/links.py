"""The workers' links to each other: which errors mean a link broke, and one line saying why.

A worker's exchange with the others fails when another worker failed or left
first; the trainer then exits 3 (`WorkerLinkLost`) so that launchers name the
worker that failed on its own. The engines' errors are long (XGBoost's carries a
location header and a C++ stack trace); `reason` keeps the line that says why.
"""

from __future__ import annotations

import re

from railyard.distributed import torch_group, xgboost_collective


def link_error(exc: BaseException | None) -> BaseException | None:
    """The engine error, in `exc` or what it was raised from, that says a link to another worker broke; else None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if xgboost_collective.is_link_error(exc) or torch_group.is_link_error(exc):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def reason(exc: BaseException) -> str:
    """The last line of an engine error before its stack trace, without XGBoost's `- [file:line|time]: ` prefix."""
    lines = [line.strip() for line in str(exc).split("Stack trace:")[0].splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    return re.sub(r"^-?\s*\[[^\]]*\]:\s*", "", lines[-1]) or lines[-1]
