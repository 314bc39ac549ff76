"""A job's data prefixes reach every process that opens its data: every Kubernetes worker's environment, and every
local worker's, which then refuses data outside them; a job without prefixes never inherits its launcher's."""

import json
import time

import kubernetes_validate
import pytest

from railyard.launch.binary import resolve
from railyard.launch.job import Binary, JobRequest, JobState
from railyard.launch.local import LocalExecutor
from railyard.launch.render import render
from railyard.launch.resources import load_config
from railyard.spec import parse_spec
from railyard.storage.prefixes import ENVIRONMENT_VARIABLE
from tests.conftest import example_spec

BINARY = Binary(path="bazel-bin/workflows/fraud_train.pex", sha256="a" * 64, target="//workflows:fraud_train")
PREFIXES = ("/data/fraud/", "s3://ml-data/fraud/")


def pod_environment(job: dict) -> dict[str, str]:
    [trainer] = job["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value") for e in trainer["env"]}


@pytest.mark.parametrize("workers", [1, 3])
def test_every_kubernetes_worker_gets_the_prefixes(workers):
    spec = parse_spec(example_spec("fraud", "s3://ml-data/fraud/charges.parquet", workers=workers))
    job = render(JobRequest("job-1", spec, BINARY, "s3://railyard-artifacts/runs/job-1", data_prefixes=PREFIXES),
                 load_config())[-1]
    kubernetes_validate.validate(job, "1.31.0", strict=True)
    assert json.loads(pod_environment(job)[ENVIRONMENT_VARIABLE]) == list(PREFIXES)
    unrestricted = render(JobRequest("job-1", spec, BINARY, "s3://railyard-artifacts/runs/job-1"), load_config())[-1]
    assert ENVIRONMENT_VARIABLE not in pod_environment(unrestricted)


def run_locally(tmp_path, spec: dict, prefixes) -> tuple[LocalExecutor, str]:
    executor = LocalExecutor(load_config(), tmp_path / "jobs")
    job_id = f"job-{time.monotonic_ns()}"
    executor.submit(JobRequest(job_id, parse_spec(spec), resolve("dev"), str(tmp_path / "runs" / job_id),
                               data_prefixes=prefixes))
    return executor, job_id


@pytest.mark.slow
def test_every_local_worker_refuses_data_outside_the_prefixes(tmp_path, charges_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    spec = example_spec("fraud", charges_path, workers=2)
    executor, job_id = run_locally(tmp_path, spec, (f"{elsewhere}/",))
    final = list(executor.watch(job_id, timeout_seconds=300))[-1]
    assert (final.state, final.reason) == (JobState.failed, "DataAccessDenied"), final
    assert final.message == f"data.features[0].path: {charges_path} is outside your data prefixes (allowed: {elsewhere}/)"
    log = executor.logs(job_id)
    assert log.count("outside your data prefixes") >= 2, log  # worker 0's line and worker 1's, prefixed
    assert "[worker 1]" in log


@pytest.mark.slow
def test_a_job_without_prefixes_does_not_inherit_its_launchers(tmp_path, charges_path, monkeypatch):
    monkeypatch.setenv(ENVIRONMENT_VARIABLE, "[]")  # the launcher itself may read nothing
    spec = example_spec("fraud", charges_path)
    spec["train"]["custom_params"]["n_estimators"] = 5
    executor, job_id = run_locally(tmp_path, spec, None)
    final = list(executor.watch(job_id, timeout_seconds=300))[-1]
    assert final.state is JobState.complete, final
