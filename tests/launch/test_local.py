"""The local executor and `railyard launch --backend local`: the same job states and failure
reasons as on Kubernetes, from real trainer processes."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from railyard.launch.binary import resolve
from railyard.launch.job import JobRequest, JobState, JobStatus
from railyard.launch.local import LocalExecutor
from railyard.launch.local_state import write_state
from railyard.launch.resources import load_config
from railyard.launch.supervisor import trainer_outcome
from railyard.spec import parse_spec
from tests.conftest import REPO, example_spec, write_spec

pytestmark = pytest.mark.slow
OUTSIDE = str(REPO / "tests" / "outside")


@pytest.fixture
def outside_path(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", f"{OUTSIDE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")


def launch(tmp_path, spec: dict, workflow_module: str = "team_models", **limits) -> tuple[LocalExecutor, str]:
    executor = LocalExecutor(load_config(), tmp_path / "jobs", **limits)
    job_id = f"job-{time.monotonic_ns()}"
    outside_workflow = spec["train"]["workflow_name"] != "StripeFraudModel"
    executor.submit(JobRequest(job_id, parse_spec(spec), resolve("dev"), str(tmp_path / "runs" / job_id),
                               trainer_args=("--workflow-module", workflow_module) if outside_workflow else ()))
    return executor, job_id


def outside(charges_path, workflow: str) -> dict:
    spec = example_spec("fraud", charges_path)
    spec["train"].update(workflow_name=workflow, custom_params={})
    return spec


def process_group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_memory_limit_kill_reads_as_oomkilled(tmp_path, charges_path, outside_path):
    executor, job_id = launch(tmp_path, outside(charges_path, "MemoryHungryModel"), memory_limit_bytes=1 * 2**30)
    states = list(executor.watch(job_id, timeout_seconds=120))
    final = states[-1]
    assert [s.state for s in states][-2:] == [JobState.running, JobState.failed]
    assert (final.state, final.reason) == (JobState.failed, "OOMKilled")
    assert "exceeded the limit of 1024 MiB" in final.message
    assert not process_group_alive(int((executor.job_dir(job_id) / "trainer.pgid").read_text()))


def test_deadline(tmp_path, charges_path, outside_path, monkeypatch):
    monkeypatch.setenv("RAILYARD_TEST_MARKER", str(tmp_path / "marker"))
    executor, job_id = launch(tmp_path, outside(charges_path, "SleepyModel"), deadline_seconds=8)
    final = list(executor.watch(job_id, timeout_seconds=120))[-1]
    assert (final.state, final.reason) == (JobState.failed, "DeadlineExceeded")
    assert not process_group_alive(int((executor.job_dir(job_id) / "trainer.pgid").read_text()))


def launch_sleeper(tmp_path, charges_path, monkeypatch):
    """A job whose workflow sleeps, returned once its trainer is in `train`."""
    marker = tmp_path / "marker"
    monkeypatch.setenv("RAILYARD_TEST_MARKER", str(marker))
    executor, job_id = launch(tmp_path, outside(charges_path, "SleepyModel"))
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return executor, job_id


def test_cancel_stops_every_process(tmp_path, charges_path, outside_path, monkeypatch):
    executor, job_id = launch_sleeper(tmp_path, charges_path, monkeypatch)
    assert executor.status(job_id).state is JobState.running
    pgid = int((executor.job_dir(job_id) / "trainer.pgid").read_text())
    supervisor = int((executor.job_dir(job_id) / "supervisor.pid").read_text())
    executor.cancel(job_id)
    assert executor.status(job_id).state is JobState.cancelled
    time.sleep(0.5)
    assert not process_group_alive(pgid)
    assert not os.path.exists(f"/proc/{supervisor}") or open(f"/proc/{supervisor}/stat").read().split()[2] == "Z"
    transitions = json.loads((executor.job_dir(job_id) / "state.json").read_text())["transitions"]
    assert [t["state"] for t in transitions] == ["queued", "running", "cancelled"]


def test_a_job_cancelled_the_moment_it_was_submitted_ends_cancelled_at_once(tmp_path, charges_path, outside_path, monkeypatch):
    monkeypatch.setenv("RAILYARD_TEST_MARKER", str(tmp_path / "marker"))
    executor, job_id = launch(tmp_path, outside(charges_path, "SleepyModel"))  # its supervisor is still importing
    started = time.monotonic()
    executor.cancel(job_id)
    assert executor.status(job_id).state is JobState.cancelled
    assert time.monotonic() - started < 10  # not the 30 s a supervisor that never answers is given


def test_a_supervisor_killed_with_kill_9_is_lost_and_its_trainer_stopped(tmp_path, charges_path, outside_path, monkeypatch):
    executor, job_id = launch_sleeper(tmp_path, charges_path, monkeypatch)
    assert executor.status(job_id).state is JobState.running
    directory = executor.job_dir(job_id)
    pgid = int((directory / "trainer.pgid").read_text())
    os.kill(int((directory / "supervisor.pid").read_text()), signal.SIGKILL)
    final = list(executor.watch(job_id, timeout_seconds=30))[-1]
    assert (final.state, final.reason) == (JobState.failed, "Lost")
    assert final.message == "the job's supervisor process ended without recording how the job ended"
    deadline = time.monotonic() + 10  # the orphaned trainer is reaped by init, not by a supervisor
    while process_group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not process_group_alive(pgid)
    assert [t["state"] for t in json.loads((directory / "state.json").read_text())["transitions"]] == ["queued", "running", "failed"]


def test_trainer_failure_reason_comes_from_exception_info(tmp_path, charges_path):
    spec = example_spec("fraud", charges_path, min_training_examples=10**9)
    executor, job_id = launch(tmp_path, spec)
    final = list(executor.watch(job_id, timeout_seconds=120))[-1]
    assert (final.state, final.reason, final.exit_code) == (JobState.failed, "DataError", 2)
    assert "There should be at least 1000000000 examples" in final.message
    assert "[railyard] failed" in executor.logs(job_id)


def test_launch_wait_trains_the_fraud_example_from_its_pex(tmp_path, charges_path):
    spec = example_spec("fraud", charges_path)
    spec["train"]["custom_params"]["n_estimators"] = 30
    run = subprocess.run(
        [sys.executable, "-m", "railyard.cli", "launch", "--spec", str(write_spec(tmp_path, spec)),
         "--binary", "//workflows:fraud_train", "--backend", "local", "--wait",
         "--jobs-dir", str(tmp_path / "jobs"), "--output", str(tmp_path / "run")],
        cwd=REPO, capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    job_id = lines[0]
    assert lines[-2:] == [f"{job_id} running", f"{job_id} complete"]
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["status"]["job_id"] == job_id
    assert result["status"]["build_target"] == "//workflows:fraud_train"
    assert result["status"]["binary_sha256"]
    assert result["result"]["metrics"]["roc_auc"] > 0.65


def test_launch_wait_exits_non_zero_on_failure(tmp_path, charges_path):
    spec = example_spec("fraud", charges_path, min_training_examples=10**9)
    run = subprocess.run(
        [sys.executable, "-m", "railyard.cli", "launch", "--spec", str(write_spec(tmp_path, spec)), "--binary", "dev",
         "--wait", "--jobs-dir", str(tmp_path / "jobs"), "--output", str(tmp_path / "run")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 1
    assert "failed: DataError: min_training_examples: There should be at least 1000000000 examples, got " in run.stdout.splitlines()[-1]


def test_relative_output_is_where_the_submitter_meant(tmp_path, charges_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = example_spec("fraud", charges_path)
    spec["train"]["custom_params"]["n_estimators"] = 10
    executor = LocalExecutor(load_config(), "jobs")
    executor.submit(JobRequest("rel-1", parse_spec(spec), resolve("dev"), "runs/rel-1"))
    assert list(executor.watch("rel-1", timeout_seconds=120))[-1].state is JobState.complete
    assert json.loads((tmp_path / "runs" / "rel-1" / "result.json").read_text())["status"]["job_id"] == "rel-1"


def launch_binary(tmp_path, charges_path, content: bytes) -> tuple[LocalExecutor, str, str]:
    """Run the file `content` as the job's (executable) trainer binary."""
    binary = tmp_path / "trainer.pex"
    binary.write_bytes(content)
    binary.chmod(0o755)
    executor = LocalExecutor(load_config(), tmp_path / "jobs")
    job_id = f"job-{time.monotonic_ns()}"
    executor.submit(JobRequest(job_id, parse_spec(example_spec("fraud", charges_path)), resolve(str(binary)),
                               str(tmp_path / "runs" / job_id)))
    return executor, job_id, str(binary)


@pytest.mark.parametrize("content, error", [(b"\x00\x01 plain data, not code\n", "Exec format error"),
                                            (b"#!/no/such/python3\n", "No such file or directory")])
def test_a_binary_that_cannot_start_fails_with_launch_failed(tmp_path, charges_path, content, error):
    executor, job_id, binary = launch_binary(tmp_path, charges_path, content)
    final = list(executor.watch(job_id, timeout_seconds=60))[-1]
    assert (final.state, final.reason, final.exit_code) == (JobState.failed, "LaunchFailed", None)
    assert final.message == f"cannot start the trainer binary {binary}: {error}"
    assert executor.status(job_id) == final  # recorded by the supervisor, not read as Lost
    assert executor.logs(job_id) == f"[railyard] {final.message}\n"
    assert (executor.job_dir(job_id) / "supervisor.log").read_text() == ""
    assert not (executor.job_dir(job_id) / "trainer.pgid").exists()
    assert [t["state"] for t in json.loads((executor.job_dir(job_id) / "state.json").read_text())["transitions"]] == [
        "queued", "failed"]


def test_a_trainer_that_exits_0_without_a_result_fails_with_no_result(tmp_path, charges_path):
    executor, job_id, _ = launch_binary(tmp_path, charges_path, b"#!/bin/sh\nexit 0\n")
    final = list(executor.watch(job_id, timeout_seconds=60))[-1]
    assert (final.state, final.reason, final.exit_code) == (JobState.failed, "NoResult", 0)
    output = tmp_path / "runs" / job_id
    assert final.message == f"the trainer exited 0 without writing a complete result.json to {output}"
    assert [t["state"] for t in json.loads((executor.job_dir(job_id) / "state.json").read_text())["transitions"]] == [
        "queued", "running", "failed"]


@pytest.mark.parametrize("job_state, expected", [("complete", JobState.complete), ("running", JobState.failed),
                                                 ("failed", JobState.failed)])
def test_exit_0_is_complete_only_with_a_complete_result(tmp_path, job_state, expected):
    (tmp_path / "result.json").write_text(json.dumps({"status": {"transition": {"job_state": job_state}}, "result": None,
                                                      "exception_info": None}))
    outcome = trainer_outcome(0, str(tmp_path))
    assert outcome.state is expected and outcome.exit_code == 0
    assert outcome.reason == (None if expected is JobState.complete else "NoResult")


HEAD, TAIL = 2_000, 3_000
OMITTED = re.compile(rb"\[railyard\] \xe2\x80\xa6 (\d+) bytes of log omitted \xe2\x80\xa6\n")


def split_capped(log: bytes) -> tuple[bytes, int, bytes]:
    """A capped log's head, the count of bytes left out, and its tail."""
    [omitted] = list(OMITTED.finditer(log))
    head, tail = log[:omitted.start()], log[omitted.end():]
    if len(head) == HEAD + 1:  # the omission line starts a line of its own
        head = head[:-1]
    assert (len(head), len(tail)) == (HEAD, TAIL)
    return head, int(omitted.group(1)), tail


def test_chatty_job_keeps_the_head_and_tail_of_its_logs(tmp_path, charges_path, outside_path, monkeypatch):
    monkeypatch.setenv("RAILYARD_LOG_HEAD_BYTES", str(HEAD))
    monkeypatch.setenv("RAILYARD_LOG_TAIL_BYTES", str(TAIL))
    spec = outside(charges_path, "ChattyModel")
    spec["train"]["custom_params"] = {"lines": 5_000}
    executor, job_id = launch(tmp_path, spec, workflow_module="chatty_models")
    assert list(executor.watch(job_id, timeout_seconds=120))[-1].state is JobState.complete

    captured = (executor.job_dir(job_id) / "trainer.log").read_bytes()
    head, omitted, tail = split_capped(captured)
    assert head.startswith(f"[railyard] job {job_id}: output ".encode())
    assert omitted > 5_000 * len("chatty stdout 00000000\n")
    assert b"[railyard] result: " in tail

    trainer_log = (tmp_path / "runs" / job_id / "trainer.log").read_bytes()
    head, omitted, tail = split_capped(trainer_log)
    assert f"[railyard] job {job_id}: output ".encode() in head.splitlines()[0]
    assert omitted > 5_000 * len("chatty log 00000000\n")
    assert tail.splitlines()[-1].endswith(b"[railyard] result: " + str(tmp_path / "runs" / job_id / "result.json").encode())
    assert b"chatty stdout" not in trainer_log

    assert executor.read_log(job_id) == (captured, len(captured))
    assert executor.read_log(job_id, 0, 100) == (captured[:100], 100)
    assert executor.read_log(job_id, 1_000, 3_000) == (captured[1_000:4_000], 4_000)
    assert executor.read_log(job_id, len(captured) - 10, 100) == (captured[-10:], len(captured))
    assert executor.read_log(job_id, len(captured) + 5) == (b"", len(captured) + 5)
    pages, offset = [], 0
    while True:
        page, offset = executor.read_log(job_id, offset, 999)
        if not page:
            break
        pages.append(page)
    assert b"".join(pages) == captured and all(len(p) == 999 for p in pages[:-1])


def test_read_log_of_a_job_without_a_log_yet(tmp_path):
    executor = LocalExecutor(load_config(), tmp_path / "jobs")
    executor.job_dir("early").mkdir(parents=True)
    write_state(executor.job_dir("early"), JobStatus(JobState.queued))
    assert executor.read_log("early") == (b"", 0)
    assert executor.read_log("early", 42, 10) == (b"", 42)


def test_status_logs_and_cancel_of_a_launched_job_without_the_service(tmp_path, charges_path, outside_path, monkeypatch):
    spec = outside(charges_path, "SleepyModel")
    monkeypatch.setenv("RAILYARD_TEST_MARKER", str(tmp_path / "marker"))
    executor, job_id = launch(tmp_path, spec)
    for _ in range(300):
        if (tmp_path / "marker").exists():
            break
        time.sleep(0.2)

    def railyard(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "railyard.cli", *args, job_id, "--backend", "local",
                               "--jobs-dir", str(tmp_path / "jobs")], cwd=REPO, capture_output=True, text=True, timeout=120)

    assert railyard("status").stdout.strip() == f"{job_id} running"
    assert "[railyard] workflow" in railyard("logs").stdout
    assert railyard("cancel").stdout.strip() == f"{job_id} cancelled: Cancelled"
    assert json.loads(railyard("status", "--json").stdout)["job_state"] == "cancelled"
