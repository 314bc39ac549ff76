"""What a local job's supervisor keeps: state.json (its status and every transition, written atomically)
and an flock on the job's directory itself, held for as long as the supervisor lives (a lock file
could be deleted from under a live supervisor; the directory cannot, short of deleting the job)."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import time
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


def take_lock(directory: Path, wait_seconds: float = 0.0) -> int:
    """A descriptor holding the job's exclusive lock, taken before its supervisor starts and handed to it; held
    by another, waited for up to `wait_seconds` (a run started again as its last supervisor winds up).

    The lock belongs to the open file, so the supervisor, inheriting the descriptor, holds it until it
    exits in any way (kill -9 included) once the submitter closes its own copy.
    """
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            os.close(fd)
            raise
        except OSError:
            os.close(fd)
            raise


def supervised(directory: Path) -> bool:
    """Whether a live supervisor (or the submitter starting it) holds the job's lock: one open and one flock, no process scan."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the shared lock this look may have taken
    return False
