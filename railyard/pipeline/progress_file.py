"""progress.json: where a running job's training is, beside its result.json.

The trainer replaces it atomically as training goes (at most every few seconds);
the service and `railyard launch --wait` read it from the job's output location,
as they read result.json. A reader sees only the known fields, each a number, a
string or null, and nothing from a file larger than MAX_PROGRESS_BYTES.

    {"step": "train", "iteration": 120, "total": 500, "unit": "iteration", "elapsed_s": 3.2,
     "remaining_s": 10.1, "metric": "rmse", "training": 0.4, "holdout": 0.45, "updated_at": "<iso>",
     "points": [{"iteration": 1, "training": 0.9, "holdout": 0.92}, ...]}

`points` is the learning curve so far, thinned to at most LIVE_POINTS.
"""

from __future__ import annotations

import sys

from railyard.errors import RailyardError
from railyard.pipeline.progress import LIVE_POINTS
from railyard.result import parse_document
from railyard.run_layout import PROGRESS
from railyard.storage import open_store

MAX_PROGRESS_BYTES = 64 * 1024
FIELDS = {"step": str, "iteration": float, "total": float, "unit": str, "elapsed_s": float, "remaining_s": float,
          "metric": str, "training": float, "holdout": float, "updated_at": str}


def read_progress(location: str) -> dict | None:
    """The progress.json under an output location, or None where there is none, it is too large or not a document."""
    try:
        data = open_store(location).read_range(PROGRESS, 0, MAX_PROGRESS_BYTES + 1)
    except RailyardError:
        return None
    if len(data) > MAX_PROGRESS_BYTES:
        return None
    document = parse_document(data)
    return known_fields(document) if document is not None else None


def known_fields(document: dict) -> dict:
    """Only the documented fields, each of its type (a finite number or a short string), else null."""
    def field(value, kind):
        if kind is str:
            return value[:200] if isinstance(value, str) else None
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return value if number and abs(value) <= sys.float_info.max else None  # not NaN, not ±inf, no int past a float

    points = document.get("points") if isinstance(document.get("points"), list) else []
    return {**{name: field(document.get(name), kind) for name, kind in FIELDS.items()},
            "points": [{key: field(p.get(key), float) for key in ("iteration", "training", "holdout")}
                       for p in points[:LIVE_POINTS] if isinstance(p, dict)]}
