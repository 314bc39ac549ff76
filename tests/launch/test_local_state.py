"""Following local jobs from their files: state.json and the supervisor's lock, no look at any process."""

import builtins
import io
import os

from railyard.launch.job import JobState, JobStatus
from railyard.launch.local import LocalExecutor
from railyard.launch.local_state import supervised, take_lock, write_state
from railyard.launch.resources import load_config

JOBS = 1_000


def no_proc(real):
    def opener(path, *args, **kwargs):
        assert not str(path).startswith("/proc"), f"status looked at {path}"
        return real(path, *args, **kwargs)

    return opener


def test_status_of_1000_jobs_reads_their_files_and_a_released_lock_is_lost(tmp_path, monkeypatch):
    executor = LocalExecutor(load_config(), tmp_path / "jobs")
    held = {}
    for i in range(JOBS):
        directory = executor.job_dir(f"job-{i}")
        directory.mkdir(parents=True)
        held[i] = take_lock(directory)  # as a live supervisor holds it
        write_state(directory, JobStatus(JobState.running))
    for i in range(0, JOBS, 2):
        os.close(held.pop(i))  # as the kernel releases it when a supervisor is killed with kill -9

    with monkeypatch.context() as patch:
        for module, name in ((builtins, "open"), (io, "open"), (os, "open"), (os, "listdir"), (os, "scandir")):
            patch.setattr(module, name, no_proc(getattr(module, name)))
        statuses = [executor.status(f"job-{i}") for i in range(JOBS)]

    assert all(s == JobStatus(JobState.running) for s in statuses[1::2])
    assert all((s.state, s.reason) == (JobState.failed, "Lost") for s in statuses[0::2])
    assert "supervisor process ended" in statuses[0].message
    assert executor.status("job-0") == statuses[0]  # recorded, and stays so
    for fd in held.values():
        os.close(fd)


def test_a_look_at_the_lock_does_not_take_it_from_the_supervisor(tmp_path):
    fd = take_lock(tmp_path)
    assert supervised(tmp_path) and supervised(tmp_path)
    os.close(fd)
    assert not supervised(tmp_path) and not supervised(tmp_path)
    assert not supervised(tmp_path / "missing")


def test_a_live_job_stays_running_whatever_is_deleted_from_its_directory(tmp_path):
    executor = LocalExecutor(load_config(), tmp_path / "jobs")
    directory = executor.job_dir("job-live")
    directory.mkdir(parents=True)
    fd = take_lock(directory)
    write_state(directory, JobStatus(JobState.running))
    for entry in directory.iterdir():
        if entry.name != "state.json":
            entry.unlink()
    assert executor.status("job-live").state is JobState.running
    os.close(fd)


def test_a_job_that_completes_while_it_is_cancelled_stays_complete(tmp_path, monkeypatch):
    executor = LocalExecutor(load_config(), tmp_path / "jobs")
    directory = executor.job_dir("job-racing")
    directory.mkdir(parents=True)
    write_state(directory, JobStatus(JobState.running))

    def supervisor_finishes_then_exits(path):
        write_state(path, JobStatus(JobState.complete, exit_code=0))
        return False

    monkeypatch.setattr("railyard.launch.local.supervised", supervisor_finishes_then_exits)
    executor.cancel("job-racing")
    assert executor.status("job-racing").state is JobState.complete
