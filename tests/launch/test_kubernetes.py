"""The Kubernetes executor through the real `kubernetes` client, against an HTTP server speaking
the Kubernetes API (tests/launch/fake_kube_api.py): create (Job, ConfigMap, NetworkPolicy), watch
to success and to each failure reason, logs and bounded log pages, cancel, conflicts and expired
watches."""

import json
import threading
import time

import pytest
from kubernetes import client

from railyard.errors import UserError
from railyard.launch.job import Binary, JobRequest, JobState
from railyard.launch.kubernetes import KubernetesExecutor
from railyard.launch.render import job_name
from railyard.launch.resources import load_config
from railyard.spec import load_spec
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


@pytest.fixture
def executor(fake, aws, tmp_path):
    aws.create_bucket(Bucket="railyard-artifacts")
    config = load_config().model_copy(update={"artifacts": "s3://railyard-artifacts"})
    configuration = client.Configuration(host=fake.url)
    return KubernetesExecutor(config, api=client.ApiClient(configuration), watch_seconds=1)


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
    states = [s.state for s in executor.watch(JOB_ID, timeout_seconds=20)]
    assert states == [JobState.queued, JobState.running, JobState.complete]
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


def test_trainer_exception_info_is_reported(executor, fake, job, aws):
    executor.submit(job)
    info = {"type": "DataError", "message": "min_training_examples: There should be at least 500 examples, got 312", "exit_code": 2}
    aws.put_object(Bucket="railyard-artifacts", Key=f"runs/{JOB_ID}/result.json",
                   Body=json.dumps({"status": {}, "result": None, "exception_info": info}))
    fake.add_pod(NAME, f"{NAME}-pod01", terminated("Error", 2))
    fake.set_job_status(NAME, failed("PodFailurePolicy", "Container trainer for pod exited with code 2 matching FailJob rule"))
    status = executor.status(JOB_ID)
    assert (status.state, status.reason, status.exit_code) == (JobState.failed, "DataError", 2)
    assert status.message == info["message"]


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


def test_missing_job(executor):
    status = executor.status("not-a-job")
    assert status.state is JobState.failed and status.reason == "NotFound"


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
