"""The Kubernetes executor through the real `kubernetes` client, against an HTTP server speaking
the Kubernetes API (tests/launch/fake_kube_api.py): create (Job, ConfigMap, NetworkPolicy), watch
to success and to each failure reason, logs and bounded log pages, cancel, conflicts; and the
watched cache statuses come from: it follows Job and Pod changes, survives 410 Gone and dropped
connections, and costs a number of requests that does not grow with the number of jobs."""

import dataclasses
import itertools
import json
import threading
import time

import pytest
from kubernetes import client

from railyard.errors import UserError
from railyard.launch import kubernetes
from railyard.launch.job import Binary, JobRequest, JobState, UnknownJob
from railyard.launch.kubernetes import KubernetesExecutor
from railyard.launch.render import job_name, render
from railyard.launch.resources import load_config
from railyard.spec import ComputeResource, load_spec
from tests.conftest import SPECS
from tests.launch.fake_kube_api import FakeKubeAPI

JOB_ID = "0b4c9c3e-5d4e-4f7e-9a51-2f6b0f4f1a11"
NAME = job_name(JOB_ID)
POLICY = ("networkpolicies", "railyard", f"{NAME}-network")
RUNNING = {"phase": "Running", "containerStatuses": [{"name": "trainer", "ready": True, "restartCount": 0, "image": "python:3.11-slim", "imageID": "", "state": {"running": {"startedAt": "2026-11-27T00:00:00Z"}}}]}


def terminated(reason: str, exit_code: int) -> dict:
    return {"phase": "Failed", "containerStatuses": [{"name": "trainer", "ready": False, "restartCount": 0, "image": "python:3.11-slim", "imageID": "",
                                                      "state": {"terminated": {"reason": reason, "exitCode": exit_code}}}]}


def failed(reason: str, message: str = "") -> dict:
    return {"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": reason, "message": message}]}


@pytest.fixture
def fake():
    api = FakeKubeAPI().start()
    yield api
    api.stop()


def make_executor(fake, **options) -> KubernetesExecutor:
    config = load_config().model_copy(update={"artifacts": "s3://railyard-artifacts"})
    return KubernetesExecutor(config, api=client.ApiClient(client.Configuration(host=fake.url)), **options)


def write_complete_result(aws) -> None:
    """JOB_ID's result.json, saying complete (the S3 server outlives a test: each test starts from this one)."""
    aws.put_object(Bucket="railyard-artifacts", Key=f"runs/{JOB_ID}/result.json",
                   Body=json.dumps({"status": {"transition": {"job_state": "complete"}}, "result": {}, "exception_info": None}))


@pytest.fixture
def executor(fake, aws, tmp_path):
    aws.create_bucket(Bucket="railyard-artifacts")
    write_complete_result(aws)
    executor = make_executor(fake, watch_seconds=1)
    yield executor
    executor.close()


@pytest.fixture
def job(tmp_path):
    pex = tmp_path / "fraud_train.pex"
    pex.write_bytes(b"#!/usr/bin/env python3.11\nprint('trainer')\n")
    spec = load_spec(SPECS["fraud"])
    spec = spec.model_copy(update={"data": spec.data.model_copy(update={"features": [
        spec.data.features[0].model_copy(update={"path": "s3://ml-data/charges.parquet"})]})})
    import hashlib

    binary = Binary(str(pex), hashlib.sha256(pex.read_bytes()).hexdigest(), "//workflows:fraud_train")
    return JobRequest(JOB_ID, spec, binary, f"s3://railyard-artifacts/runs/{JOB_ID}", git_commit="f" * 40)


def eventually(check, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while not (result := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
    return result


def later(seconds: float, action) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(seconds), action()), daemon=True)
    thread.start()
    return thread


def test_submit_creates_job_and_configmap_and_uploads_the_binary(executor, fake, job, aws):
    executor.submit(job)
    created = fake.job(NAME)
    assert created["metadata"]["annotations"]["railyard.io/git-commit"] == "f" * 40
    configmap = fake.objects[("configmaps", "railyard", f"{NAME}-spec")]
    assert configmap["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    assert json.loads(configmap["data"]["spec.json"])["train"]["workflow_name"] == "StripeFraudModel"
    policy = fake.objects[POLICY]
    assert policy["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    assert policy["spec"]["podSelector"]["matchLabels"]["railyard.io/job-id"] == JOB_ID
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    key = f"binaries/{job.binary.sha256}.pex"
    assert aws.get_object(Bucket="railyard-artifacts", Key=key)["Body"].read().startswith(b"#!/usr/bin/env python3.11")
    assert executor.status(JOB_ID).state is JobState.queued
    executor.submit(job)  # the same job again (a retried request) is accepted, not duplicated
    for kind in ("jobs", "configmaps", "networkpolicies"):
        assert len([r for r in fake.requests if r[0] == "POST" and r[1].endswith(f"/{kind}")]) == 2
        assert len([k for k in fake.objects if k[0] == kind]) == 1


def test_job_runs_only_once_its_network_policy_exists(executor, fake, job):
    executor.submit(job)
    first_version = next(obj for _, kind, event, obj in fake.events if kind == "jobs" and event == "ADDED")
    assert first_version["spec"]["suspend"] is True
    created_policy = fake.requests.index(("POST", "/apis/networking.k8s.io/v1/namespaces/railyard/networkpolicies"))
    assert created_policy < fake.requests.index(("PATCH", f"/apis/batch/v1/namespaces/railyard/jobs/{NAME}"))
    assert fake.job(NAME)["spec"]["suspend"] is False


def test_a_job_id_that_is_not_a_dns_label_is_refused(executor, fake, job):
    with pytest.raises(UserError, match="job id 'Bad_Id': expected lowercase letters, digits and '-'"):
        executor.submit(JobRequest("Bad_Id", job.spec, job.binary, job.output))
    assert not fake.objects


def test_name_taken_by_another_job_is_an_error(executor, fake, job):
    executor.submit(job)
    fake.objects[("jobs", "railyard", NAME)]["metadata"]["annotations"]["railyard.io/job-id"] = "someone-else"
    with pytest.raises(Exception, match="already exists for another job"):
        executor.submit(job)


def test_local_data_is_refused(executor, job):
    local = job.spec.model_copy(update={"data": job.spec.data.model_copy(update={"features": [
        job.spec.data.features[0].model_copy(update={"path": "sample-data/charges.parquet"})]})})
    with pytest.raises(Exception, match=r"data.features\[0\].path: sample-data/charges.parquet is not an s3:// URI"):
        executor.submit(JobRequest(JOB_ID, local, job.binary, job.output))


def test_watch_to_success_with_logs(executor, fake, job):
    executor.submit(job)
    later(0.3, lambda: (fake.set_job_status(NAME, {"active": 1}), fake.add_pod(NAME, f"{NAME}-abcde", RUNNING, log="[railyard] train: 1,000 rows\n")))
    later(0.8, lambda: fake.set_job_status(NAME, {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}))
    # a finished Job stays running (a second status) until its result.json is read
    states = [state for state, _ in itertools.groupby(s.state for s in executor.watch(JOB_ID, timeout_seconds=20))]
    assert states == [JobState.queued, JobState.running, JobState.complete]
    assert ("GET", f"/apis/batch/v1/namespaces/railyard/jobs/{NAME}") not in fake.requests  # all from the cache
    assert not [q for q in fake.queries if q[2].get("fieldSelector")]  # no watch of its own
    assert "[railyard] train: 1,000 rows" in executor.logs(JOB_ID)


@pytest.mark.parametrize(
    "pod_status, job_status, reason",
    [
        (terminated("OOMKilled", 137), failed("BackoffLimitExceeded", "Job has reached the specified backoff limit"), "OOMKilled"),
        (RUNNING, failed("DeadlineExceeded", "Job was active longer than specified deadline"), "DeadlineExceeded"),
        (terminated("Error", 1), failed("BackoffLimitExceeded", "Job has reached the specified backoff limit"), "BackoffLimitExceeded"),
        ({"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."}, failed("BackoffLimitExceeded"), "Evicted"),
        ({"phase": "Pending", "containerStatuses": [{"name": "trainer", "ready": False, "restartCount": 0, "image": "x", "imageID": "",
                                                      "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}]}, {}, "ImagePullBackOff"),
    ],
)
def test_watch_to_each_failure_reason(executor, fake, job, pod_status, job_status, reason):
    executor.submit(job)
    later(0.3, lambda: fake.add_pod(NAME, f"{NAME}-pod01", pod_status))
    if job_status:
        later(0.6, lambda: fake.set_job_status(NAME, job_status))
    final = list(executor.watch(JOB_ID, timeout_seconds=20))[-1]
    assert final.state is JobState.failed
    assert final.reason == reason
    if reason == "ImagePullBackOff":
        assert fake.job(NAME) is None  # a Job that can never start is deleted


def test_trainer_exception_info_is_reported(executor, fake, job, aws, monkeypatch):
    from railyard.result import read_result

    executor.submit(job)
    info = {"type": "DataError", "message": "min_training_examples: There should be at least 500 examples, got 312", "exit_code": 2}
    aws.put_object(Bucket="railyard-artifacts", Key=f"runs/{JOB_ID}/result.json",
                   Body=json.dumps({"status": {}, "result": None, "exception_info": info}))
    fake.add_pod(NAME, f"{NAME}-pod01", terminated("Error", 2))
    fake.set_job_status(NAME, failed("PodFailurePolicy", "Container trainer for pod exited with code 2 matching FailJob rule"))
    reads = []
    monkeypatch.setattr(kubernetes, "read_result", lambda uri: reads.append(uri) or read_result(uri))
    status = eventually(lambda: (s := executor.status(JOB_ID)).state is JobState.failed and s)
    assert (status.state, status.reason, status.exit_code) == (JobState.failed, "DataError", 2)
    assert status.message == info["message"]
    assert executor.status(JOB_ID) == status
    assert len(reads) == 1  # result.json is read once per finished job


def test_cancel_deletes_the_job_with_its_pods(executor, fake, job):
    executor.submit(job)
    fake.add_pod(NAME, f"{NAME}-pod01", RUNNING)
    fake.set_job_status(NAME, {"active": 1})
    assert executor.status(JOB_ID).state is JobState.running
    executor.cancel(JOB_ID)
    assert fake.job(NAME) is None
    assert not [k for k in fake.objects if k[0] in ("pods", "configmaps", "networkpolicies")]
    assert ("PATCH", f"/apis/batch/v1/namespaces/railyard/jobs/{NAME}") in fake.requests
    assert executor.status(JOB_ID).state is JobState.cancelled


def test_watch_survives_an_expired_resource_version(executor, fake, job):
    executor.submit(job)
    later(0.2, fake.expire_history)
    later(0.5, lambda: fake.set_job_status(NAME, {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}))
    assert list(executor.watch(JOB_ID, timeout_seconds=30))[-1].state is JobState.complete


def test_missing_job_is_unknown_job(executor, fake):
    with pytest.raises(UnknownJob, match=r"no Job of job not-a-job \(railyard-not-a-job\) in namespace railyard"):
        executor.status("not-a-job")
    asked = [q for q in fake.queries if q[1] == "/apis/batch/v1/namespaces/railyard/jobs" and q[2].get("watch") not in ("true", "1")]
    assert any("railyard.io/job-id=not-a-job" in q[2].get("labelSelector", "") for q in asked)  # asked, not assumed


def test_read_log_pages_a_running_pod_log_with_bounded_reads(executor, fake, job):
    executor.submit(job)
    assert executor.read_log(JOB_ID) == (b"", 0)  # no pod yet
    log = "".join(f"[railyard] line {i} é\n" for i in range(100)).encode()
    fake.add_pod(NAME, f"{NAME}-old01", terminated("Error", 1), log=b"the first attempt\n")
    time.sleep(1.1)  # a later creationTimestamp
    fake.add_pod(NAME, f"{NAME}-pod02", RUNNING, log=log)
    fake.set_job_status(NAME, {"active": 1})
    pages, offset = [], 0
    while True:
        page, offset = executor.read_log(JOB_ID, offset, limit=333)
        if not page:
            break
        assert len(page) <= 333
        pages.append(page)
    assert b"".join(pages) == log and offset == len(log)
    reads = [q[2] for q in fake.queries if q[1] == f"/api/v1/namespaces/railyard/pods/{NAME}-pod02/log"]
    assert [int(r["limitBytes"]) for r in reads[:3]] == [333, 666, 999]
    assert all(r["container"] == "trainer" for r in reads)


def test_read_log_of_a_finished_job_reads_a_range_of_the_stored_log(executor, fake, job, aws):
    executor.submit(job)
    fake.add_pod(NAME, f"{NAME}-pod01", RUNNING, log="from the pod\n")
    fake.set_job_status(NAME, {"active": 1})
    stored = b"".join(b"2026-11-27 00:00:00,000 INFO [railyard] step %d\n" % i for i in range(1000))
    aws.put_object(Bucket="railyard-artifacts", Key=f"runs/{JOB_ID}/trainer.log", Body=stored)
    assert executor.read_log(JOB_ID) == (b"from the pod\n", 13)  # still running: the pod's log
    fake.set_job_status(NAME, {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
    assert executor.read_log(JOB_ID, 100, 50) == (stored[100:150], 150)
    assert executor.read_log(JOB_ID, len(stored) - 10, 50) == (stored[-10:], len(stored))
    assert executor.read_log(JOB_ID, len(stored), 50) == (b"", len(stored))
    logs_read = [r for r in fake.requests if r[1].endswith("/log")]
    assert len(logs_read) == 1  # only while it ran


def test_read_log_of_a_finished_job_without_a_stored_log_reads_the_pod(executor, fake, job, aws):
    aws.delete_object(Bucket="railyard-artifacts", Key=f"runs/{JOB_ID}/trainer.log")  # the S3 server outlives a test
    executor.submit(job)
    fake.add_pod(NAME, f"{NAME}-pod01", terminated("OOMKilled", 137), log="[railyard] train: 1,000 rows\n")
    fake.set_job_status(NAME, failed("BackoffLimitExceeded"))
    assert executor.read_log(JOB_ID, 11, 5) == (b"train", 16)


# --- the watched cache ---------------------------------------------------------------------------
def running_job(fake, job, job_id: str) -> None:
    """A Job as the executor creates it, with one running pod, made directly in the API server."""
    manifest = render(JobRequest(job_id, job.spec, job.binary, f"s3://railyard-artifacts/runs/{job_id}"), load_config())[2]
    fake.create("jobs", manifest)
    fake.set_job_status(job_name(job_id), {"active": 1})
    fake.add_pod(job_name(job_id), f"{job_name(job_id)}-pod01", RUNNING)


def direct_reads(fake, since: int) -> list:
    """The requests after the since-th that were not watches."""
    return [q for q in fake.queries[since:] if q[2].get("watch") not in ("true", "1")]


def state_becomes(executor, state: JobState, job_id: str = JOB_ID) -> JobState:
    return eventually(lambda: executor.status(job_id).state is state)


def test_statuses_follow_job_and_pod_changes_through_the_cache(executor, fake, job):
    executor.submit(job)
    assert executor.cache().synced
    eventually(lambda: executor.cache().jobs_of(JOB_ID))
    since = len(fake.queries)
    fake.add_pod(NAME, f"{NAME}-pod01", {"phase": "Pending"})
    assert executor.status(JOB_ID).state is JobState.queued
    fake.set_pod_status(f"{NAME}-pod01", RUNNING)
    state_becomes(executor, JobState.running)
    assert direct_reads(fake, since) == []  # every answer came from the cache
    fake.set_pod_status(f"{NAME}-pod01", terminated("OOMKilled", 137))
    fake.set_job_status(NAME, failed("BackoffLimitExceeded", "Job has reached the specified backoff limit"))
    since = len(fake.queries)
    state_becomes(executor, JobState.failed)
    assert executor.status(JOB_ID).reason == "OOMKilled"
    # a failure is final only if no replica started the job again: each is confirmed by a direct read
    assert {q[1] for q in direct_reads(fake, since)} == {"/apis/batch/v1/namespaces/railyard/jobs", "/api/v1/namespaces/railyard/pods"}


def test_a_just_submitted_job_is_queued_until_the_watch_brings_it(executor, fake, job, monkeypatch):
    assert executor.cache().synced
    fake.hold_watches()  # the Job's ADDED event is late
    executor.submit(job)
    since = len(fake.queries)
    assert executor.status(JOB_ID).state is JobState.queued
    assert direct_reads(fake, since) == []
    monkeypatch.setattr(kubernetes, "SUBMITTED_GRACE_SECONDS", 0)  # past the grace: asked directly
    assert executor.status(JOB_ID).state is JobState.queued
    assert [q[1] for q in direct_reads(fake, since)] == ["/apis/batch/v1/namespaces/railyard/jobs",
                                                         "/api/v1/namespaces/railyard/pods"]
    fake.hold_watches(False)
    eventually(lambda: executor.cache().jobs_of(JOB_ID))


def test_the_cache_lists_again_after_410_gone(executor, fake, job):
    executor.submit(job)
    eventually(lambda: executor.cache().jobs_of(JOB_ID))
    fake.hold_watches()  # the watches see nothing more, not even bookmarks
    fake.set_job_status(NAME, {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
    fake.expire_history()  # and the versions they would resume from are compacted away
    since = len(fake.queries)
    eventually(lambda: fake.expired_watches >= 2)  # each renews its watch (every second) and is told 410
    state_becomes(executor, JobState.complete)  # from the new list
    eventually(lambda: len(direct_reads(fake, since)) == 2)
    assert sorted(q[1] for q in direct_reads(fake, since)) == ["/api/v1/namespaces/railyard/pods", "/apis/batch/v1/namespaces/railyard/jobs"]
    fake.hold_watches(False)


def test_the_cache_lists_again_after_a_dropped_connection(fake, aws, job):
    aws.create_bucket(Bucket="railyard-artifacts")
    write_complete_result(aws)
    executor = make_executor(fake, watch_seconds=30)  # no renewals meanwhile: both watches stay open
    try:
        executor.submit(job)
        eventually(lambda: executor.cache().jobs_of(JOB_ID) and fake.open_watches == 2)
        since = len(fake.queries)
        fake.drop_watches()
        fake.add_pod(NAME, f"{NAME}-pod01", RUNNING)  # while no watch is open
        eventually(lambda: len(direct_reads(fake, since)) == 2)  # each kind listed again, after a backoff
        assert sorted(q[1] for q in direct_reads(fake, since)) == ["/api/v1/namespaces/railyard/pods", "/apis/batch/v1/namespaces/railyard/jobs"]
        state_becomes(executor, JobState.running)
        fake.set_job_status(NAME, {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
        state_becomes(executor, JobState.complete)  # and the watches go on
    finally:
        executor.close()


def test_following_jobs_costs_requests_independent_of_their_number(fake, aws, job):
    aws.create_bucket(Bucket="railyard-artifacts")
    cached, direct = make_executor(fake, watch_seconds=30), make_executor(fake, use_cache=False)
    ids: list[str] = []
    try:
        for n in (5, 50):
            while len(ids) < n:
                ids.append(f"bench-{len(ids):04d}")
                running_job(fake, job, ids[-1])
            eventually(lambda: all(cached.cache().pods_of(job_id) for job_id in ids))
            since = len(fake.queries)
            for _ in range(20):  # twenty dispatcher ticks
                assert all(cached.status(job_id).state is JobState.running for job_id in ids)
            assert direct_reads(fake, since) == [] and len(fake.queries) - since <= 2  # at most a watch renewed
            since = len(fake.queries)
            assert all(direct.status(job_id).state is JobState.running for job_id in ids)
            assert len(direct_reads(fake, since)) == 2 * n  # the old way: a GET and a LIST per job, every tick
    finally:
        cached.close()


def test_an_oomkilled_job_starts_again_on_the_larger_class_as_its_next_attempt(executor, fake, job):
    """The service's larger-class retry (api/retries.py) on Kubernetes: a Job of its own, sized by the larger class."""
    executor.submit(job)
    fake.add_pod(NAME, f"{NAME}-pod01", terminated("OOMKilled", 137))
    fake.set_job_status(NAME, failed("BackoffLimitExceeded", "Job has reached the specified backoff limit"))
    eventually(lambda: executor.status(JOB_ID).reason == "OOMKilled")
    larger = dataclasses.replace(job, spec=job.spec.model_copy(update={"compute_resource": ComputeResource.HIGH_MEMORY}))
    executor.retry(larger)
    created = fake.job(f"railyard2-{JOB_ID}")
    assert created["metadata"]["labels"]["railyard.io/compute-resource"] == "HIGH_MEMORY"
    high_memory = load_config().resource_classes["HIGH_MEMORY"]
    assert created["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == high_memory.limits
    assert json.loads(fake.objects[("configmaps", "railyard", f"railyard2-{JOB_ID}-spec")]["data"]["spec.json"])[
        "compute_resource"] == "HIGH_MEMORY"
    assert executor.status(JOB_ID).state is JobState.queued
    fake.add_pod(f"railyard2-{JOB_ID}", f"railyard2-{JOB_ID}-pod01", RUNNING)
    eventually(lambda: executor.status(JOB_ID).state is JobState.running)
