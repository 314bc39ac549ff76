"""A job with several workers through the Kubernetes executor, against the test API server: submit creates the
Indexed Job with its headless Service (owned by the Job); it is complete when the Job completes; one worker's
failure fails the job naming that worker; logs are every worker's, prefixed; cancel removes Job and Service; a
worker pre-empted fails the Job at once, and the service's retry starts every worker again as the next attempt's Job."""

import dataclasses
import itertools
import json

import pytest

from railyard.api.retries import ended_by_infrastructure
from railyard.errors import UserError
from railyard.launch.job import JobState, StillRunning
from railyard.states import FailureReason
from tests.launch.test_kubernetes import (  # noqa: F401 (fixtures)
    JOB_ID,
    NAME,
    RUNNING,
    eventually,
    executor,
    fake,
    job,
    later,
    make_executor,
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


def disrupted(code: int) -> dict:
    """A worker pod pre-empted by the scheduler: SIGKILLed after its grace period."""
    status = terminated("Error", code)
    status["conditions"] = [{"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                             "message": "Preempted in order to admit critical pod"}]
    return status


def test_a_preempted_worker_starts_the_whole_job_again_as_its_next_attempt(executor, fake, workers_job):
    """Kubernetes fails the Indexed Job at once (podFailurePolicy FailJob on DisruptionTarget and on exit 75); the
    service starts every worker again, in a Job of its own, which its status and logs then follow."""
    assert not executor.retries_itself(WORKERS) and executor.retries_itself(1)
    executor.submit(workers_job)
    worker_pods(fake, {0: RUNNING, 1: disrupted(137), 2: RUNNING, 3: RUNNING}, logs={0: "round 60\n"})
    with pytest.raises(UserError, match="still runs"):
        executor.retry(workers_job)
    fake.set_job_status(NAME, {"failed": 1, "failedIndexes": "1", "conditions": [
        {"type": "Failed", "status": "True", "reason": "PodFailurePolicy",
         "message": "Pod railyard/x has condition DisruptionTarget matching FailJob rule at index 1"}]})
    status = failed_status(executor)
    assert (status.reason, status.exit_code) == (FailureReason.Preempted, 137)
    assert status.message == "worker 1: its pod was disrupted (PreemptionByScheduler: Preempted in order to admit critical pod)"
    assert ended_by_infrastructure(status)

    executor.retry(workers_job)
    second = f"railyard2-{JOB_ID}"
    created = fake.job(second)
    assert created["metadata"]["labels"]["railyard.io/attempt"] == "2"
    assert created["spec"]["template"]["metadata"]["labels"]["railyard.io/attempt"] == "2"
    assert fake.job(NAME) is not None, "the ended attempt's Job stays, for its pods' logs"
    service = fake.objects[("services", "railyard", f"{second}-workers")]
    assert service["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    env = {e["name"]: e.get("value") for e in created["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["RAILYARD_RENDEZVOUS_HOST"] == f"{second}-0.{second}-workers"
    assert executor.status(JOB_ID).state is JobState.queued, "the new attempt, not the ended one's failure"

    for index in range(WORKERS):
        fake.add_pod(second, f"{second}-{index}-y{index}", RUNNING, index=index, log="resuming training from iteration 50\n" if index == 0 else "")
    fake.set_job_status(second, {"active": WORKERS})
    eventually(lambda: executor.status(JOB_ID).state is JobState.running)
    logs = executor.logs(JOB_ID)
    assert logs.index("[worker 0] round 60") < logs.index("[worker 0] resuming training from iteration 50")
    assert executor.read_log(JOB_ID)[0] == b"resuming training from iteration 50\n"
    fake.set_job_status(second, {"succeeded": WORKERS, "completedIndexes": "0-3", "conditions": [{"type": "Complete", "status": "True"}]})
    eventually(lambda: executor.status(JOB_ID).state is JobState.complete)
    executor.cancel(JOB_ID)  # finished: left as it is
    assert fake.job(second) is not None


def test_a_worker_that_exits_75_is_the_infrastructures_and_a_job_runs_at_most_nine_times(executor, fake, workers_job):
    executor.submit(workers_job)
    worker_pods(fake, {0: ended(75, "05"), 1: RUNNING, 2: RUNNING, 3: RUNNING})
    fail_indexes(fake, "0", failed=1)
    status = failed_status(executor)
    assert (status.reason, status.exit_code) == (FailureReason.WorkerFailed, 75) and ended_by_infrastructure(status)
    for attempt in range(2, 10):
        executor.retry(workers_job)
        name = f"railyard{attempt}-{JOB_ID}"
        fake.set_job_status(name, {"failed": 1, "failedIndexes": "0", "conditions": [
            {"type": "Failed", "status": "True", "reason": "FailedIndexes", "message": "Job has failed indexes"}]})
        eventually(lambda: executor.status(JOB_ID).state is JobState.failed)
    with pytest.raises(UserError, match="runs at most 9 times on Kubernetes"):
        executor.retry(workers_job)


@pytest.mark.parametrize("message, reason, code, said", [
    ("Pod railyard/{name}-1-abcde has condition DisruptionTarget matching FailJob rule at index 2",
     FailureReason.Preempted, None, "worker 1: its pod was disrupted (DisruptionTarget)"),
    ("Container trainer for pod railyard/{name}-3-xyz12 failed with exit code 75 matching FailJob rule at index 1",
     FailureReason.WorkerFailed, 75, "worker 3 exited with 75"),
])
def test_a_preempted_worker_whose_pod_is_gone_is_read_from_the_jobs_condition(message, reason, code, said, executor, fake,
                                                                             workers_job):
    """Pre-emption, eviction and drains delete the pod; the Job controller deletes the others: the Job's Failed
    condition is what is left to say which worker, and why."""
    executor.submit(workers_job)
    worker_pods(fake, {0: ended(3, "09"), 2: ended(3, "09")})  # the survivors lost their link to it
    fake.set_job_status(NAME, {"failed": 3, "conditions": [{"type": "Failed", "status": "True", "reason": "PodFailurePolicy",
                                                            "message": message.format(name=NAME)}]})
    status = failed_status(executor)
    assert (status.reason, status.exit_code, status.message) == (reason, code, said) and ended_by_infrastructure(status)


def test_a_replica_whose_cache_lags_sees_the_next_attempt_another_started_and_cancels_it(executor, fake, workers_job):
    other = make_executor(fake, watch_seconds=1)
    try:
        executor.submit(workers_job)
        worker_pods(fake, {0: ended(75, "05"), 1: RUNNING, 2: RUNNING, 3: RUNNING})
        fail_indexes(fake, "0", failed=1)
        failed_status(executor)
        eventually(lambda: other.status(JOB_ID).state is JobState.failed)
        fake.hold_watches()  # the other replica's cache sees nothing more
        executor.retry(workers_job)
        assert other.status(JOB_ID).state is JobState.queued, "a failure is confirmed before it is believed"
        with pytest.raises(StillRunning):
            other.retry(workers_job)
        other.cancel(JOB_ID)
        assert fake.job(f"railyard2-{JOB_ID}") is None, "the running attempt is the one cancelled"
    finally:
        fake.hold_watches(False)
        other.close()
