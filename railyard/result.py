"""result.json: the talk's result shape, written atomically at each state change.

`status` says where the job is (job id, log file, latest transition, every
transition, git commit, and the data fingerprint: each input file's size and
modification time as the run opened it); `result` says what it produced (holdout scores and
labels paths, model id, metrics, per-step measurements); `exception_info` is
null or the error. The file says `complete` only once every other output has
been written, so a run killed at any point never looks finished.
"""

from __future__ import annotations

import datetime as dt
import json

from railyard.buildinfo import library_versions
from railyard.errors import RailyardError
from railyard.run_layout import RESULT
from railyard.states import JobState
from railyard.storage import Store, open_store

RUNNING, COMPLETE, FAILED = JobState.running.value, JobState.complete.value, JobState.failed.value
MAX_RESULT_BYTES = 16 << 20  # the most of a result.json that is read


def parse_document(data: bytes) -> dict | None:
    """A JSON object read from a job's output, or None where the bytes are not one (malformed, nested too deep)."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def read_result(location: str) -> dict | None:
    """The result.json under an output location, or None where there is none (yet), it cannot be read, it is over
    MAX_RESULT_BYTES or it is not a JSON object."""
    try:
        data = open_store(location).read_range(RESULT, 0, MAX_RESULT_BYTES + 1)
    except RailyardError:
        return None
    return parse_document(data) if len(data) <= MAX_RESULT_BYTES else None


def is_complete(result: dict | None) -> bool:
    """Whether a result.json says the job completed (it says so only once every output is written)."""
    return bool(result) and ((result.get("status") or {}).get("transition") or {}).get("job_state") == COMPLETE


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


class ResultFile:
    def __init__(self, store: Store, job_id: str, log_file: str, build: dict, spec_hash: str | None = None):
        self.store = store
        self.transitions: list[dict] = []
        self.status = {
            "job_id": job_id,
            "log_file": log_file,
            "transition": None,
            "transitions": self.transitions,
            "git_commit": build["git_commit"],
            "git_dirty": build["git_dirty"],
            "binary_sha256": build["binary_sha256"],
            "build_target": build["target"],
            "libraries": {},
            "spec_hash": spec_hash,
            "data_fingerprint": None,
        }

    def record_fingerprint(self, fingerprint: list[dict]) -> None:
        """What the data looked like when the run opened it; written with the next state."""
        self.status["data_fingerprint"] = fingerprint

    def write(self, job_state: str, result: dict | None = None, exception_info: dict | None = None) -> str:
        transition = {"created_at": now(), "job_state": job_state}
        self.transitions.append(transition)
        self.status["transition"] = transition
        self.status["libraries"] = library_versions()
        document = {"status": self.status, "result": result, "exception_info": exception_info}
        return self.store.write_text(RESULT, json.dumps(document, indent=2, default=str) + "\n")
