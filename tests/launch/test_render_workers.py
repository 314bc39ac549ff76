"""Rendered manifests of a job with several workers: an Indexed Job and a headless Service, valid against the
official schemas (strict) and the restricted profile, images pinned; the Service names exactly the job's pods;
every worker gets the environment contract; the NetworkPolicy lets only the job's own workers reach each other.
One worker renders the single-pod Job."""

import pytest
import kubernetes_validate

from railyard.launch.job import Explanation, JobRequest
from railyard.launch.pod_security import violations
from railyard.launch.render import RENDEZVOUS_PORT, render
from tests.launch.test_render import BINARY, CONFIG, JOB_ID, KUBERNETES_VERSION, PINNED, images_of, manifests, with_resource

NAME = f"railyard-{JOB_ID}"
SERVICE = f"{NAME}-workers"


def with_workers(name: str, resource: str, workers: int):
    return with_resource(name, resource).model_copy(update={"workers": workers})


def env_of(job: dict) -> dict:
    return {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}


@pytest.mark.parametrize("resource, attempt", [("CPU", 1), ("GPU", 1), ("CPU", 9)])
def test_four_workers_render_valid_restricted_manifests(resource, attempt):
    rendered = manifests(with_workers("fraud", resource, 4), attempt=attempt)
    assert [m["kind"] for m in rendered] == ["NetworkPolicy", "ConfigMap", "Service", "Job"]
    for manifest in rendered:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        assert violations(manifest) == []
    job = rendered[-1]
    assert images_of(job) and all(PINNED.fullmatch(image) for image in images_of(job))
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 4, 4)
    assert spec["backoffLimitPerIndex"] == 0 and spec["maxFailedIndexes"] == 0 and "backoffLimit" not in spec
    # a worker pre-empted (exit 75, or its pod disrupted) fails the Job at once: the service starts every worker again
    assert spec["podFailurePolicy"]["rules"] == [
        {"action": "FailJob", "onExitCodes": {"containerName": "trainer", "operator": "In", "values": [2]}},
        {"action": "FailJob", "onExitCodes": {"containerName": "trainer", "operator": "In", "values": [75]}},
        {"action": "FailJob", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]
    named = f"railyard{attempt}-{JOB_ID}" if attempt > 1 else NAME
    assert [m["metadata"]["name"] for m in rendered] == [f"{named}-network", f"{named}-spec", f"{named}-workers", named]
    assert all(m["metadata"]["labels"]["railyard.io/attempt"] == str(attempt) for m in rendered)
    trainer = spec["template"]["spec"]["containers"][0]
    expected = CONFIG.resource_classes[resource]
    assert trainer["resources"] == {"requests": expected.requests, "limits": expected.limits}
    assert ("nvidia.com/gpu" in trainer["resources"]["limits"]) == (resource == "GPU")


def test_the_service_is_headless_and_selects_exactly_the_jobs_pods():
    policy, _, service, job = manifests(with_workers("fraud", "CPU", 4))
    assert service["metadata"]["name"] == SERVICE and service["spec"]["clusterIP"] == "None"
    pod_labels = job["spec"]["template"]["metadata"]["labels"]
    selector = service["spec"]["selector"]
    assert selector.items() <= pod_labels.items() and selector["railyard.io/job-id"] == JOB_ID
    assert selector == policy["spec"]["podSelector"]["matchLabels"]
    assert job["spec"]["template"]["spec"]["subdomain"] == SERVICE
    other = manifests(with_workers("fraud", "CPU", 4), job_id="job-42")[2]
    assert other["spec"]["selector"]["railyard.io/job-id"] == "job-42"


def test_every_worker_gets_the_environment_contract():
    *_, job = manifests(with_workers("mlp", "GPU", 4))
    env = env_of(job)
    assert env["RAILYARD_WORKERS"]["value"] == "4"
    assert env["RAILYARD_WORKER_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == \
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    assert env["RAILYARD_RENDEZVOUS_HOST"]["value"] == f"{NAME}-0.{SERVICE}"
    assert env["RAILYARD_RENDEZVOUS_PORT"]["value"] == str(RENDEZVOUS_PORT)
    assert env["RAILYARD_EXCHANGE_TIMEOUT"]["value"] == str(job["spec"]["activeDeadlineSeconds"])
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args == manifests(with_resource("mlp", "GPU"))[-1]["spec"]["template"]["spec"]["containers"][0]["args"]


def test_network_policy_lets_only_the_jobs_workers_reach_each_other():
    policy, *_ = manifests(with_workers("fraud", "CPU", 4))
    single, *_ = manifests(with_resource("fraud", "CPU"))
    own = [{"podSelector": {"matchLabels": policy["spec"]["podSelector"]["matchLabels"]}}]
    ports = [{"protocol": "TCP", "port": RENDEZVOUS_PORT, "endPort": 65535}]
    assert policy["spec"]["ingress"] == [{"from": own, "ports": ports}]
    assert policy["spec"]["egress"] == single["spec"]["egress"] + [{"to": own, "ports": ports}]
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_one_worker_renders_the_single_pod_job():
    rendered = manifests(with_workers("fraud", "CPU", 1))
    assert rendered == manifests(with_resource("fraud", "CPU"))
    assert [m["kind"] for m in rendered] == ["NetworkPolicy", "ConfigMap", "Job"]
    job = rendered[-1]
    assert "completionMode" not in job["spec"] and "subdomain" not in job["spec"]["template"]["spec"]
    assert not {"RAILYARD_WORKERS", "RAILYARD_RENDEZVOUS_HOST"} & set(env_of(job))


def test_an_explanation_job_runs_one_pod_whatever_the_training_spec_asked():
    explanation = Explanation(model="s3://railyard-artifacts/models/m", data="s3://ml-data/charges.parquet")
    job = JobRequest(JOB_ID, with_workers("fraud", "CPU", 4), BINARY, f"s3://railyard-artifacts/runs/{JOB_ID}",
                     explanation=explanation)
    assert [m["kind"] for m in render(job, CONFIG)] == ["NetworkPolicy", "ConfigMap", "Job"]
