"""The Executor contract (railyard/launch/job.py), asserted once for every executor: LocalExecutor with
real supervisor and trainer processes, and KubernetesExecutor through the real `kubernetes` client against
the fake API server (tests/launch/fake_kube_api.py), whose Jobs and Pods a driver moves as the Job
controller and kubelet would.

Each test gets a `backend`: the executor and a driver that submits a job that will complete on its own
(`submit(job_id)`), one that runs until cancelled (`submit(job_id, finishes=False)`) or one whose trainer
exits 0 without writing a complete result.json (`submit(job_id, writes_result=False)`), and waits for a
job to be running (`wait_running`). Only the local runs that start real trainers are marked slow."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field

import pytest

from railyard.errors import RailyardError
from railyard.launch.job import LOG_PAGE_BYTES, Binary, Executor, JobRequest, JobState, JobStatus, UnknownJob
from railyard.states import TRANSITIONS
from tests.conftest import REPO, SPECS, example_spec

OUTSIDE = str(REPO / "tests" / "outside")
WAIT_SECONDS = 120  # a real trainer's whole run, generously

# Backends for tests that run jobs (the local one starts real trainers: slow), and for those that do not.
RUNNING_BACKENDS = [pytest.param("local", marks=pytest.mark.slow), "kubernetes"]
BACKENDS = ["local", "kubernetes"]


def new_job_id() -> str:
    return f"contract-{uuid.uuid4().hex[:12]}"


def eventually(check, seconds: float = WAIT_SECONDS):
    deadline = time.monotonic() + seconds
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return result


@dataclass
class Backend:
    name: str
    executor: Executor
    artifacts: str  # where the executor puts job outputs: every output_uri is under it
    submit_job: object  # (job_id, finishes, writes_result) -> None
    wait_running_job: object  # (job_id) -> None
    submitted: list[str] = field(default_factory=list)

    def submit(self, job_id: str, finishes: bool = True, writes_result: bool = True) -> None:
        self.submit_job(job_id, finishes, writes_result)
        self.submitted.append(job_id)

    def wait_running(self, job_id: str) -> None:
        self.wait_running_job(job_id)

    def finished(self, job_id: str) -> JobStatus:
        """Watch the job to its end; its last status."""
        statuses = list(self.executor.watch(job_id, timeout_seconds=WAIT_SECONDS))
        assert statuses and statuses[-1].state.finished, statuses
        return statuses[-1]


# --- local: real supervisor and trainer processes --------------------------------------------------
def local_backend(request, tmp_path, monkeypatch) -> Backend:
    from railyard.launch.binary import resolve
    from railyard.launch.local import LocalExecutor
    from railyard.launch.resources import load_config
    from railyard.spec import parse_spec

    monkeypatch.setenv("PYTHONPATH", f"{OUTSIDE}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    outputs = str(tmp_path / "runs")
    executor = LocalExecutor(load_config(), tmp_path / "jobs", outputs=outputs)
    markers = tmp_path / "markers"
    markers.mkdir()

    def submit(job_id: str, finishes: bool, writes_result: bool) -> None:
        charges_path = request.getfixturevalue("charges_path")
        spec = example_spec("fraud", charges_path)
        if not writes_result:  # a trainer binary that exits 0 at once
            exits_0 = tmp_path / "exits-0"
            exits_0.write_text("#!/bin/sh\nexit 0\n")
            exits_0.chmod(0o755)
            executor.submit(JobRequest(job_id, parse_spec(spec), resolve(str(exits_0)), executor.output_uri(job_id)))
            return
        if finishes:  # prints and logs a few hundred lines, then fits a small tree
            spec["train"].update(workflow_name="ChattyModel", custom_params={"lines": 200})
            module = "chatty_models"
        else:  # notes that it trains in its marker file, then sleeps until cancelled
            spec["train"].update(workflow_name="SleepyModel", custom_params={})
            module = "team_models"
        monkeypatch.setenv("RAILYARD_TEST_MARKER", str(markers / job_id))  # the supervisor inherits it
        executor.submit(JobRequest(job_id, parse_spec(spec), resolve("dev"), executor.output_uri(job_id),
                                   trainer_args=("--workflow-module", module)))

    def wait_running(job_id: str) -> None:
        eventually(lambda: (markers / job_id).exists())
        eventually(lambda: executor.status(job_id).state is JobState.running)

    return Backend("local", executor, outputs, submit, wait_running)


# --- Kubernetes: the fake API server, moved as the Job controller and kubelet would ----------------
RUNNING_POD = {"phase": "Running", "containerStatuses": [{"name": "trainer", "ready": True, "restartCount": 0,
                                                          "image": "python:3.11-slim", "imageID": "",
                                                          "state": {"running": {"startedAt": "2026-11-27T00:00:00Z"}}}]}
SUCCEEDED_POD = {"phase": "Succeeded", "containerStatuses": [{"name": "trainer", "ready": False, "restartCount": 0,
                                                              "image": "python:3.11-slim", "imageID": "",
                                                              "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}
COMPLETE = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
COMPLETE_RESULT = {"status": {"transition": {"job_state": "complete"}}, "result": {"model_id": "sha256.X"}, "exception_info": None}


def trainer_log(job_id: str) -> bytes:
    return "".join(f"[railyard] job {job_id}: step {i} é\n" for i in range(40)).encode()


def kubernetes_backend(request, tmp_path) -> Backend:
    from kubernetes import client

    from railyard.launch.kubernetes import KubernetesExecutor
    from railyard.launch.render import job_name
    from railyard.launch.resources import load_config
    from railyard.spec import load_spec
    from tests.launch.fake_kube_api import FakeKubeAPI

    aws = request.getfixturevalue("aws")
    aws.create_bucket(Bucket="railyard-artifacts")
    fake = FakeKubeAPI().start()
    request.addfinalizer(fake.stop)
    artifacts = "s3://railyard-artifacts"
    config = load_config().model_copy(update={"artifacts": artifacts})
    executor = KubernetesExecutor(config, api=client.ApiClient(client.Configuration(host=fake.url)), watch_seconds=1)
    request.addfinalizer(executor.close)

    pex = tmp_path / "fraud_train.pex"
    pex.write_bytes(b"#!/usr/bin/env python3.11\nprint('trainer')\n")
    binary = Binary(str(pex), hashlib.sha256(pex.read_bytes()).hexdigest(), "//workflows:fraud_train")
    spec = load_spec(SPECS["fraud"])
    spec = spec.model_copy(update={"data": spec.data.model_copy(update={"features": [
        spec.data.features[0].model_copy(update={"path": "s3://ml-data/charges.parquet"})]})})

    def progress(job_id: str, finishes: bool, writes_result: bool) -> None:
        name = job_name(job_id)
        log = trainer_log(job_id)
        time.sleep(0.3)
        fake.add_pod(name, f"{name}-pod01", {"phase": "Pending"})
        time.sleep(0.2)
        fake.set_pod_status(f"{name}-pod01", RUNNING_POD)
        fake.set_job_status(name, {"active": 1})
        fake.logs[f"{name}-pod01"] = log
        if finishes:
            time.sleep(0.5)
            # the trainer stores its log next to result.json as it ends; then its pod and Job succeed
            aws.put_object(Bucket="railyard-artifacts", Key=f"runs/{job_id}/trainer.log", Body=log)
            if writes_result:
                aws.put_object(Bucket="railyard-artifacts", Key=f"runs/{job_id}/result.json", Body=json.dumps(COMPLETE_RESULT))
            fake.set_pod_status(f"{name}-pod01", SUCCEEDED_POD)
            fake.set_job_status(name, COMPLETE)

    threads: list[threading.Thread] = []

    def submit(job_id: str, finishes: bool, writes_result: bool) -> None:
        executor.submit(JobRequest(job_id, spec, binary, executor.output_uri(job_id)))
        thread = threading.Thread(target=progress, args=(job_id, finishes, writes_result), daemon=True)
        thread.start()
        threads.append(thread)

    def wait_running(job_id: str) -> None:
        eventually(lambda: executor.status(job_id).state is JobState.running, seconds=20)

    def join() -> None:
        for thread in threads:
            thread.join(10)

    request.addfinalizer(join)
    return Backend("kubernetes", executor, artifacts, submit, wait_running)


@pytest.fixture
def backend(request, tmp_path, monkeypatch):
    made = local_backend(request, tmp_path, monkeypatch) if request.param == "local" else kubernetes_backend(request, tmp_path)
    yield made
    for job_id in made.submitted:  # leave no trainer running
        try:
            if not made.executor.status(job_id).state.finished:
                made.executor.cancel(job_id)
        except RailyardError:
            pass


def assert_allowed_order(statuses: list[JobStatus]) -> None:
    """Each state follows the one before as states.TRANSITIONS allows (a repeat is a new status of the same state),
    the first is not finished unless it is the only one, and the last is finished."""
    states = [s.state for s in statuses]
    assert states, "watch yielded nothing"
    for before, after in zip(states, states[1:]):
        assert before is after or after in TRANSITIONS[before], f"{before.value} -> {after.value} in {states}"
        assert not before.finished, f"a status after the finished {before.value}: {states}"
    assert states[-1].finished, states
    assert all(a != b for a, b in zip(statuses, statuses[1:])), "watch yields each status once, when it changes"


# --- the contract ---------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_output_uri_is_under_the_artifact_location_and_distinct_per_job(backend):
    first, second = new_job_id(), new_job_id()
    uri = backend.executor.output_uri(first)
    assert uri.startswith(backend.artifacts.rstrip("/") + "/")
    assert uri.rstrip("/").endswith(first)
    assert backend.executor.output_uri(first) == uri  # the same job, the same place
    assert backend.executor.output_uri(second) != uri
    assert not backend.executor.output_uri(second).startswith(uri.rstrip("/") + "/")  # nor one inside another's


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_an_unknown_job_is_unknown_job_to_every_method(backend):
    job_id = new_job_id()
    for look in (backend.executor.status, backend.executor.logs, backend.executor.read_log, backend.executor.cancel):
        with pytest.raises(UnknownJob, match=job_id):
            look(job_id)


@pytest.mark.parametrize("backend", RUNNING_BACKENDS, indirect=True)
def test_exit_0_without_a_complete_result_is_failed_no_result(backend):
    job_id = new_job_id()
    backend.submit(job_id, writes_result=False)
    final = backend.finished(job_id)
    assert (final.state, final.reason, final.exit_code) == (JobState.failed, "NoResult", 0), final.describe()
    assert final.message == f"the trainer exited 0 without writing a complete result.json to {backend.executor.output_uri(job_id)}"
    assert backend.executor.status(job_id) == final


@pytest.mark.parametrize("backend", RUNNING_BACKENDS, indirect=True)
def test_a_submitted_job_is_queued_or_running_then_complete(backend):
    job_id = new_job_id()
    backend.submit(job_id)
    assert backend.executor.status(job_id).state in (JobState.queued, JobState.running)
    final = backend.finished(job_id)
    assert final.state is JobState.complete, final.describe()
    assert backend.executor.status(job_id) == final  # and stays so


@pytest.mark.parametrize("backend", RUNNING_BACKENDS, indirect=True)
def test_watch_yields_states_in_an_allowed_order_and_ends_finished(backend):
    job_id = new_job_id()
    backend.submit(job_id)
    statuses = list(backend.executor.watch(job_id, timeout_seconds=WAIT_SECONDS))
    assert_allowed_order(statuses)
    assert statuses[0].state in (JobState.queued, JobState.running)
    assert statuses[-1].state is JobState.complete
    assert [s.state for s in backend.executor.watch(job_id, timeout_seconds=5)] == [JobState.complete]  # a finished job: once


@pytest.mark.parametrize("backend", RUNNING_BACKENDS, indirect=True)
def test_read_log_pages_are_consistent(backend):
    job_id = new_job_id()
    backend.submit(job_id)
    assert backend.finished(job_id).state is JobState.complete
    executor = backend.executor

    whole, end = executor.read_log(job_id)
    assert whole and end == len(whole) and len(whole) <= LOG_PAGE_BYTES
    assert executor.read_log(job_id, 0, LOG_PAGE_BYTES) == (whole, end)

    for limit in (97, 1000):
        pages, offset = [], 0
        while True:
            page, next_offset = executor.read_log(job_id, offset, limit)
            assert next_offset == offset + len(page)  # the next offset advances by what was read
            assert len(page) <= limit
            if not page:
                break
            pages.append(page)
            offset = next_offset
        assert b"".join(pages) == whole and offset == end
        assert all(len(p) == limit for p in pages[:-1])  # only the last page is short

    middle = len(whole) // 3
    assert executor.read_log(job_id, middle, 50) == (whole[middle:middle + 50], middle + 50)
    assert executor.read_log(job_id, end, 50) == (b"", end)  # at the end: nothing, and the offset stays
    assert executor.read_log(job_id, middle, 0) == (b"", middle)


@pytest.mark.parametrize("backend", RUNNING_BACKENDS, indirect=True)
def test_cancel_of_a_running_job_ends_cancelled(backend):
    job_id = new_job_id()
    backend.submit(job_id, finishes=False)
    backend.wait_running(job_id)
    backend.executor.cancel(job_id)
    status = eventually(lambda: (s := backend.executor.status(job_id)).state.finished and s, seconds=30)
    assert status.state is JobState.cancelled, status.describe()
    assert [s.state for s in backend.executor.watch(job_id, timeout_seconds=5)] == [JobState.cancelled]
    backend.executor.cancel(job_id)  # again: nothing changes
    assert backend.executor.status(job_id) == status


@pytest.mark.parametrize("backend", RUNNING_BACKENDS, indirect=True)
def test_cancel_of_a_finished_job_changes_nothing(backend):
    job_id = new_job_id()
    backend.submit(job_id)
    final = backend.finished(job_id)
    assert final.state is JobState.complete
    log = backend.executor.read_log(job_id)
    backend.executor.cancel(job_id)
    for _ in range(20):  # not just at once: for as long as it takes a backend's view of the job to catch up
        assert backend.executor.status(job_id) == final
        time.sleep(0.1)
    assert [s for s in backend.executor.watch(job_id, timeout_seconds=5)] == [final]
    assert backend.executor.read_log(job_id) == log


MALFORMED_JOB_IDS = ["", ".", "..", "../jobs", "a/../b", "/etc", "x" * 300, "nul\0byte"]


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
@pytest.mark.parametrize("job_id", MALFORMED_JOB_IDS)
def test_a_malformed_job_id_is_unknown_job_to_every_method(backend, job_id):
    for look in (backend.executor.status, backend.executor.logs, backend.executor.read_log, backend.executor.cancel):
        with pytest.raises(UnknownJob):
            look(job_id)


@pytest.mark.parametrize("backend", ["kubernetes"], indirect=True)
def test_an_id_that_only_maps_to_another_jobs_name_is_unknown(backend):
    job_id = new_job_id()
    backend.submit(job_id, finishes=False)
    backend.wait_running(job_id)
    for alias in (job_id.upper(), f"../{job_id}", f"{job_id}/"):
        with pytest.raises(UnknownJob):
            backend.executor.status(alias)
        with pytest.raises(UnknownJob):
            backend.executor.cancel(alias)
    assert not backend.executor.status(job_id).state.finished


@pytest.mark.parametrize("backend", ["local"], indirect=True)
def test_a_local_job_id_cannot_reach_outside_the_jobs_directory(backend, tmp_path):
    backend.executor.root.mkdir(parents=True, exist_ok=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "state.json").write_text(json.dumps({"state": "running", "transitions": []}))
    for job_id in ("../elsewhere", str(elsewhere), "x" * 300):
        for look in (backend.executor.status, backend.executor.logs, backend.executor.read_log, backend.executor.cancel):
            with pytest.raises(UnknownJob):
                look(job_id)
    assert json.loads((elsewhere / "state.json").read_text())["state"] == "running"
    with pytest.raises(RailyardError, match="job id '../elsewhere'"):
        backend.submit("../elsewhere")
