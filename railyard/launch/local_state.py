"""state.json of a local job: its current status and every transition, written atomically."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from railyard.launch.job import JobState, JobStatus
from railyard.storage import LocalStore

STATE_FILE = "state.json"


def read_state(directory: Path) -> JobStatus:
    raw = json.loads((directory / STATE_FILE).read_text())
    return JobStatus(
        state=JobState(raw["state"]),
        reason=raw.get("reason"),
        message=raw.get("message"),
        exit_code=raw.get("exit_code"),
        exception_info=raw.get("exception_info"),
    )


def transitions(directory: Path) -> list[dict]:
    path = directory / STATE_FILE
    return json.loads(path.read_text())["transitions"] if path.exists() else []


def write_state(directory: Path, status: JobStatus) -> None:
    history = transitions(directory)
    if not history or history[-1]["state"] != status.state.value:
        history.append({"state": status.state.value, "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")})
    document = {
        "state": status.state.value,
        "reason": status.reason,
        "message": status.message,
        "exit_code": status.exit_code,
        "exception_info": status.exception_info,
        "transitions": history,
    }
    LocalStore(directory).write_text(STATE_FILE, json.dumps(document, indent=2) + "\n")
