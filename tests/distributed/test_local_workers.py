"""The local executor running a job of several workers: the same command line N times, each worker with
its distributed environment, one merged log, and a worker that fails or is killed failing the whole job."""

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from railyard.launch.binary import resolve
from railyard.launch.job import JobRequest, JobState
from railyard.launch.local import LocalExecutor
from railyard.launch.resources import load_config
from railyard.spec import parse_spec
from tests.conftest import example_spec

# A trainer that records what it was started with, says hello on two lines, then does what
# RAILYARD_TEST_WORKER_<index> says: "exit:<code>[:<after seconds, 0.5>]", "sleep", "hold:<MiB>" (for 3 s, then finish),
# or (the default) finish; worker 0 writes a complete result.json once it has finished.
WORKER = f"""#!{sys.executable}
import json, os, sys, time
argv = sys.argv[1:]
output = argv[argv.index("--output") + 1]
index = os.environ["RAILYARD_WORKER_INDEX"]
os.makedirs(output, exist_ok=True)
names = ("RAILYARD_WORKERS", "RAILYARD_WORKER_INDEX", "RAILYARD_RENDEZVOUS_HOST", "RAILYARD_RENDEZVOUS_PORT", "RAILYARD_RENDEZVOUS_DIR",
         "RAILYARD_EXCHANGE_TIMEOUT", "OMP_NUM_THREADS")
record = {{"env": {{n: os.environ.get(n) for n in names}}, "argv": argv, "pgid": os.getpgid(0)}}
with open(os.path.join(output, f"started-{{index}}.json"), "w") as f:
    json.dump(record, f)
print(f"hello from worker {{index}}", flush=True)
sys.stderr.write(f"second line from worker {{index}}\\n")
sys.stderr.flush()
todo = os.environ.get(f"RAILYARD_TEST_WORKER_{{index}}", "finish")
if todo.startswith("hold:"):
    held = b"x" * (int(todo[5:]) * 2**20)
    time.sleep(3)
if todo.startswith("exit:"):
    code, _, delay = todo[5:].partition(":")
    time.sleep(float(delay or 0.5))
    sys.exit(int(code))
if todo == "sleep":
    time.sleep(300)
if index == "0":
    with open(os.path.join(output, "result.json"), "w") as f:
        json.dump({{"status": {{"transition": {{"job_state": "complete"}}}}, "result": {{}}}}, f)
"""


def launch(tmp_path: Path, charges_path, workers: int, binary: str | None = None, **limits) -> tuple[LocalExecutor, str, Path]:
    if binary is None:
        script = tmp_path / "worker.py"
        script.write_text(WORKER)
        script.chmod(0o755)
        binary = str(script)
    spec = example_spec("fraud", charges_path, workers=workers)
    executor = LocalExecutor(load_config(), tmp_path / "jobs", **limits)
    job_id = f"job-{time.monotonic_ns()}"
    output = tmp_path / "runs" / job_id
    executor.submit(JobRequest(job_id, parse_spec(spec), resolve(binary), str(output)))
    return executor, job_id, output


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def test_every_worker_runs_the_same_command_with_its_own_environment(tmp_path, charges_path):
    executor, job_id, output = launch(tmp_path, charges_path, workers=3)
    final = list(executor.watch(job_id, timeout_seconds=60))[-1]
    assert final.state is JobState.complete, final
    started = [json.loads((output / f"started-{i}.json").read_text()) for i in range(3)]
    assert [s["env"]["RAILYARD_WORKER_INDEX"] for s in started] == ["0", "1", "2"]
    assert {s["env"]["RAILYARD_WORKERS"] for s in started} == {"3"}
    assert {s["env"]["RAILYARD_RENDEZVOUS_HOST"] for s in started} == {"127.0.0.1"}
    assert len({s["env"]["RAILYARD_RENDEZVOUS_PORT"] for s in started}) == 1
    assert 1024 <= int(started[0]["env"]["RAILYARD_RENDEZVOUS_PORT"]) < 65535
    deadline = load_config().resource_class("CPU").deadline_seconds  # one exchange may wait as long as the job may run
    assert {s["env"]["RAILYARD_EXCHANGE_TIMEOUT"] for s in started} == {str(deadline)}
    rendezvous_dirs = {s["env"]["RAILYARD_RENDEZVOUS_DIR"] for s in started}
    assert len(rendezvous_dirs) == 1  # one private directory the workers share, in the job's own directory
    rendezvous_dir = Path(rendezvous_dirs.pop())
    assert rendezvous_dir.is_dir() and rendezvous_dir.is_relative_to(executor.job_dir(job_id))
    assert rendezvous_dir.stat().st_mode & 0o077 == 0
    share = os.environ.get("OMP_NUM_THREADS") or str(max(1, len(os.sched_getaffinity(0)) // 3))
    assert {s["env"]["OMP_NUM_THREADS"] for s in started} == {share}  # three workers share this machine's cores
    assert started[0]["argv"] == started[1]["argv"] == started[2]["argv"]
    assert started[0]["argv"][-2:] == ["--job-id", job_id]
    assert len({s["pgid"] for s in started}) == 3  # one process group each: limits and stops apply per worker
    pgids = (executor.job_dir(job_id) / "trainer.pgid").read_text().split()
    assert sorted(pgids) == sorted(str(s["pgid"]) for s in started)

    lines = executor.logs(job_id).splitlines()
    assert sorted(lines) == sorted(["hello from worker 0", "second line from worker 0",
                                    "[worker 1] hello from worker 1", "[worker 1] second line from worker 1",
                                    "[worker 2] hello from worker 2", "[worker 2] second line from worker 2"])
    log, _ = executor.read_log(job_id)
    assert log.decode().splitlines() == lines


def test_one_worker_has_no_distributed_environment(tmp_path, charges_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.replace('os.environ["RAILYARD_WORKER_INDEX"]', 'os.environ.get("RAILYARD_WORKER_INDEX", "0")'))
    script.chmod(0o755)
    executor, job_id, output = launch(tmp_path, charges_path, workers=1, binary=str(script))
    assert list(executor.watch(job_id, timeout_seconds=60))[-1].state is JobState.complete
    assert set(json.loads((output / "started-0.json").read_text())["env"].values()) == {None}
    assert executor.logs(job_id) == "hello from worker 0\nsecond line from worker 0\n"


def test_a_worker_that_fails_stops_the_others_and_fails_the_job_naming_it(tmp_path, charges_path, monkeypatch):
    monkeypatch.setenv("RAILYARD_TEST_WORKER_0", "sleep")
    monkeypatch.setenv("RAILYARD_TEST_WORKER_2", "sleep")
    monkeypatch.setenv("RAILYARD_TEST_WORKER_1", "exit:4")
    executor, job_id, output = launch(tmp_path, charges_path, workers=3)
    began = time.monotonic()
    final = list(executor.watch(job_id, timeout_seconds=60))[-1]
    assert (final.state, final.reason, final.message, final.exit_code) == (JobState.failed, "WorkerFailed",
                                                                           "worker 1 exited with 4", 4)
    assert time.monotonic() - began < 30  # the sleeping workers were stopped, not waited for
    for pgid in (executor.job_dir(job_id) / "trainer.pgid").read_text().split():
        assert not group_alive(int(pgid))
    assert not (output / "result.json").exists()


def test_the_worker_that_failed_on_its_own_is_named_not_those_whose_link_it_broke(tmp_path, charges_path, monkeypatch):
    monkeypatch.setenv("RAILYARD_TEST_WORKER_0", "exit:3:0.2")  # WorkerLinkLost, seen before worker 1 has ended
    monkeypatch.setenv("RAILYARD_TEST_WORKER_1", "exit:1:1")
    monkeypatch.setenv("RAILYARD_TEST_WORKER_2", "sleep")
    executor, job_id, _ = launch(tmp_path, charges_path, workers=3)
    final = list(executor.watch(job_id, timeout_seconds=60))[-1]
    assert (final.reason, final.message, final.exit_code) == ("WorkerFailed", "worker 1 exited with 1", 1)

    for index in range(3):  # no worker failed on its own: the first whose link broke is named, and says so
        monkeypatch.setenv(f"RAILYARD_TEST_WORKER_{index}", f"exit:3:{0.2 * (3 - index)}")
    executor, job_id, _ = launch(tmp_path, charges_path, workers=3)
    final = list(executor.watch(job_id, timeout_seconds=60))[-1]
    assert (final.reason, final.exit_code) == ("WorkerFailed", 3)
    assert final.message == "worker 2 exited with 3, its link to the other workers lost; no worker failed on its own"


def test_cancel_stops_every_worker(tmp_path, charges_path, monkeypatch):
    for index in range(3):
        monkeypatch.setenv(f"RAILYARD_TEST_WORKER_{index}", "sleep")
    executor, job_id, _ = launch(tmp_path, charges_path, workers=3)
    deadline = time.monotonic() + 30
    while executor.status(job_id).state is not JobState.running or len(executor.logs(job_id).splitlines()) < 6:
        assert time.monotonic() < deadline, executor.logs(job_id)
        time.sleep(0.1)
    executor.cancel(job_id)
    assert list(executor.watch(job_id, timeout_seconds=60))[-1].state is JobState.cancelled
    for pgid in (executor.job_dir(job_id) / "trainer.pgid").read_text().split():
        assert not group_alive(int(pgid))


def test_the_memory_limit_applies_to_each_worker(tmp_path, charges_path, monkeypatch):
    for index in range(3):
        monkeypatch.setenv(f"RAILYARD_TEST_WORKER_{index}", "hold:150")  # 450 MiB in all, under 250 MiB each
    executor, job_id, _ = launch(tmp_path, charges_path, workers=3, memory_limit_bytes=250 * 2**20)
    assert list(executor.watch(job_id, timeout_seconds=60))[-1].state is JobState.complete

    monkeypatch.setenv("RAILYARD_TEST_WORKER_0", "sleep")
    monkeypatch.setenv("RAILYARD_TEST_WORKER_2", "hold:400")
    executor, job_id, _ = launch(tmp_path, charges_path, workers=3, memory_limit_bytes=250 * 2**20)
    final = list(executor.watch(job_id, timeout_seconds=60))[-1]
    assert (final.state, final.reason) == (JobState.failed, "OOMKilled")
    assert final.message.startswith("worker 2: resident memory ")
    assert final.message.endswith(" MiB exceeded the limit of 250 MiB")
    for pgid in (executor.job_dir(job_id) / "trainer.pgid").read_text().split():
        assert not group_alive(int(pgid))


@pytest.mark.slow
def test_a_worker_killed_mid_training_fails_the_job_and_leaves_no_complete_output(tmp_path, charges_path):
    """Two real MLP trainers over torch.distributed; worker 1 is killed with SIGKILL once it trains."""
    spec = example_spec("mlp", charges_path, workers=2)
    spec["train"]["custom_params"].update(epochs=100_000)
    executor = LocalExecutor(load_config(), tmp_path / "jobs")
    job_id = f"job-{time.monotonic_ns()}"
    output = tmp_path / "runs" / job_id
    executor.submit(JobRequest(job_id, parse_spec(spec), resolve("dev"), str(output)))
    deadline = time.monotonic() + 240
    while "[worker 1] [railyard] train progress: epoch 1/" not in executor.logs(job_id):
        assert time.monotonic() < deadline, executor.logs(job_id)
        assert not executor.status(job_id).state.finished, (executor.status(job_id), executor.logs(job_id)[-3000:])
        time.sleep(0.2)
    worker_1 = int((executor.job_dir(job_id) / "trainer.pgid").read_text().split()[1])
    os.killpg(worker_1, signal.SIGKILL)
    final = list(executor.watch(job_id, timeout_seconds=120))[-1]
    assert (final.state, final.reason) == (JobState.failed, "WorkerFailed")
    assert final.message == "worker 1 exited with -9 (SIGKILL)"
    result = json.loads((output / "result.json").read_text())
    assert result["status"]["transition"]["job_state"] != "complete"
    assert not (output / "model").exists()
    assert not (output / "scores.tsv").exists()
    for pgid in (executor.job_dir(job_id) / "trainer.pgid").read_text().split():
        assert not group_alive(int(pgid))


@pytest.mark.slow
def test_an_error_in_the_data_that_every_worker_finds_fails_the_job_with_it(tmp_path, charges_path):
    spec = example_spec("mlp", charges_path, workers=2, min_training_examples=10**9)
    executor = LocalExecutor(load_config(), tmp_path / "jobs")
    executor.submit(JobRequest("too-few", parse_spec(spec), resolve("dev"), str(tmp_path / "runs" / "too-few")))
    final = list(executor.watch("too-few", timeout_seconds=240))[-1]
    assert (final.state, final.reason, final.exit_code) == (JobState.failed, "DataError", 2)
    assert "There should be at least 1000000000 examples" in final.message


def test_the_workers_of_a_gpu_job_get_one_gpu_each(monkeypatch):
    from railyard.launch.supervisor import worker_environment

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert [worker_environment(i, 2, 29500, gpu=True)["CUDA_VISIBLE_DEVICES"] for i in range(2)] == ["0", "1"]
    assert "CUDA_VISIBLE_DEVICES" not in worker_environment(0, 2, 29500)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert [worker_environment(i, 3, 29500, gpu=True)["CUDA_VISIBLE_DEVICES"] for i in range(3)] == ["3", "5", ""]


def test_a_job_of_more_workers_than_one_machine_takes_is_refused_before_anything_starts(tmp_path, charges_path):
    from railyard.errors import UserError

    with pytest.raises(UserError, match=r"^workers: the LocalExecutor runs at most 8 workers of a job, got 9; use fewer"):
        launch(tmp_path, charges_path, workers=9)
    assert not list((tmp_path / "jobs").glob("*"))
