"""A job with several workers through the Kubernetes executor, against the test API server: submit creates the
Indexed Job with its headless Service (owned by the Job); it is complete when the Job completes; one worker's
failure fails the job naming that worker; logs are every worker's, prefixed; cancel removes Job and Service."""

import dataclasses
import itertools
import json

import pytest

from railyard.launch.job import JobState
from tests.launch.test_kubernetes import (  # noqa: F401 (fixtures)
    JOB_ID,
    NAME,
    RUNNING,
    eventually,
    executor,
    fake,
    job,
    later,
    terminated,
)

SERVICE = ("services", "railyard", f"{NAME}-workers")
WORKERS = 4


@pytest.fixture
def workers_job(job):
    return dataclasses.replace(job, spec=job.spec.model_copy(update={"workers": WORKERS}))


def worker_pods(fake, statuses: dict[int, dict], logs: dict[int, str] | None = None) -> None:
    for index, status in statuses.items():
        fake.add_pod(NAME, f"{NAME}-{index}-x{index}", status, index=index, log=(logs or {}).get(index, ""))


def ended(code: int, at: str) -> dict:
    """A pod status of a trainer that exited with `code` at second `at` of the run."""
    status = terminated("Error", code)
    status["containerStatuses"][0]["state"]["terminated"]["finishedAt"] = f"2026-11-27T00:00:{at}Z"
    return status


def fail_indexes(fake, indexes: str, failed: int) -> None:
    fake.set_job_status(NAME, {"failed": failed, "failedIndexes": indexes, "conditions": [
        {"type": "Failed", "status": "True", "reason": "FailedIndexes", "message": "Job has failed indexes"}]})


def worker_0_result(aws, info: dict) -> None:
    aws.put_object(Bucket="railyard-artifacts", Key=f"runs/{JOB_ID}/result.json",
                   Body=json.dumps({"status": {}, "result": None, "exception_info": info}))


def failed_status(executor):
    return eventually(lambda: (s := executor.status(JOB_ID)).state is JobState.failed and s)


def test_submit_creates_the_indexed_job_and_its_service(executor, fake, workers_job):
    executor.submit(workers_job)
    created = fake.job(NAME)
    assert created["spec"]["completionMode"] == "Indexed" and created["spec"]["completions"] == WORKERS
    service = fake.objects[SERVICE]
    assert service["spec"]["clusterIP"] == "None"
    assert service["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    assert created["spec"]["template"]["spec"]["subdomain"] == service["metadata"]["name"]
    policy = fake.objects[("networkpolicies", "railyard", f"{NAME}-network")]
    assert policy["spec"]["ingress"][0]["from"] == [{"podSelector": {"matchLabels": service["spec"]["selector"]}}]
    created_service = fake.requests.index(("POST", "/api/v1/namespaces/railyard/services"))
    assert created_service < fake.requests.index(("PATCH", f"/apis/batch/v1/namespaces/railyard/jobs/{NAME}"))
    executor.submit(workers_job)  # a retried submit keeps the one Service
    assert len([k for k in fake.objects if k[0] == "services"]) == 1


def test_complete_when_the_indexed_job_completes(executor, fake, workers_job):
    executor.submit(workers_job)
    later(0.3, lambda: (fake.set_job_status(NAME, {"active": WORKERS}), worker_pods(fake, dict.fromkeys(range(WORKERS), RUNNING))))
    later(0.8, lambda: fake.set_job_status(NAME, {"succeeded": WORKERS, "completedIndexes": "0-3",
                                                  "conditions": [{"type": "Complete", "status": "True"}]}))
    # a finished Job stays running (a second status) until its result.json is read
    states = [state for state, _ in itertools.groupby(s.state for s in executor.watch(JOB_ID, timeout_seconds=20))]
    assert states == [JobState.queued, JobState.running, JobState.complete]


def test_a_failed_worker_fails_the_job_naming_it(executor, fake, workers_job, aws):
    # worker 0's result, not the cause
    worker_0_result(aws, {"type": "XGBoostError", "message": "worker 0 lost its link to worker 2", "exit_code": 1})
    executor.submit(workers_job)
    lost = ended(1, "09")  # the others lose their link to it afterwards
    worker_pods(fake, {0: lost, 1: lost, 2: ended(1, "05"), 3: RUNNING})
    fail_indexes(fake, "2", failed=3)
    status = failed_status(executor)
    assert (status.reason, status.exit_code, status.message) == ("WorkerFailed", 1, "worker 2 exited with 1")


@pytest.mark.parametrize("failed_worker, code", [
    (0, 1),  # worker 0's own failure
    (1, 2),  # an error in the data, which every worker finds: worker 1 happened to end first
])
def test_worker_0s_exception_info_is_reported(failed_worker, code, executor, fake, workers_job, aws):
    info = {"type": "DataError", "message": "min_training_examples: There should be at least 500 examples, got 312",
            "exit_code": code}
    worker_0_result(aws, info)
    executor.submit(workers_job)
    worker_pods(fake, {**dict.fromkeys(range(WORKERS), RUNNING), failed_worker: terminated("Error", code)})
    fail_indexes(fake, str(failed_worker), failed=1)
    status = failed_status(executor)
    assert (status.reason, status.exit_code, status.message) == ("DataError", code, info["message"])


def test_a_worker_that_lost_its_link_is_not_named_though_it_ended_first(executor, fake, workers_job):
    executor.submit(workers_job)
    # WorkerLinkLost (exit 3): worker 0 noticed before worker 1's own failure ended its pod
    worker_pods(fake, {0: ended(3, "05"), 1: ended(1, "06"), 2: RUNNING, 3: RUNNING})
    fail_indexes(fake, "0,1", failed=2)
    status = failed_status(executor)
    assert (status.reason, status.exit_code, status.message) == ("WorkerFailed", 1, "worker 1 exited with 1")


def test_a_failed_worker_is_named_from_the_job_when_no_pod_says_why(executor, fake, workers_job):
    executor.submit(workers_job)
    fail_indexes(fake, "2", failed=1)
    assert failed_status(executor).describe() == "failed: WorkerFailed: worker 2 failed: Job has failed indexes"


def test_logs_are_every_workers_with_a_prefix(executor, fake, workers_job):
    executor.submit(workers_job)
    worker_pods(fake, {1: RUNNING, 0: RUNNING}, logs={0: "tracker up\nround 1\n", 1: "joined\n"})
    logs = executor.logs(JOB_ID)
    assert "[worker 0] tracker up\n[worker 0] round 1\n" in logs and "[worker 1] joined\n" in logs
    assert logs.index("[worker 0]") < logs.index("[worker 1]")
    page, _ = executor.read_log(JOB_ID)
    assert page == b"tracker up\nround 1\n"  # a page of log is worker 0's


def test_cancel_removes_the_job_and_its_service(executor, fake, workers_job):
    executor.submit(workers_job)
    worker_pods(fake, dict.fromkeys(range(WORKERS), RUNNING))
    fake.set_job_status(NAME, {"active": WORKERS})
    eventually(lambda: executor.status(JOB_ID).state is JobState.running)
    executor.cancel(JOB_ID)
    assert fake.job(NAME) is None
    assert not [k for k in fake.objects if k[0] in ("pods", "services", "configmaps", "networkpolicies")]
    assert executor.status(JOB_ID).state is JobState.cancelled
