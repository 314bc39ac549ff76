"""Rendered manifests: valid against the official Kubernetes schemas (strict), within the
restricted Pod Security profile, sized by the resource class, images pinned by digest, a
NetworkPolicy per job, job ids that make valid names, and immune to hostile values."""

import json
import re

import kubernetes_validate
import pytest
import yaml

from railyard.launch.job import Binary, JobRequest
from railyard.launch.pod_security import violations
from railyard.launch.render import MAX_ATTEMPTS, MAX_JOB_ID_LENGTH, render, to_yaml
from railyard.errors import SpecError, UserError
from railyard.launch.resources import DEFAULT_CONFIG, LaunchConfig, load_config
from railyard.spec import load_spec, parse_spec
from tests.conftest import SPECS

KUBERNETES_VERSION = "1.33.0"
CONFIG = load_config()
BINARY = Binary(path="bazel-bin/workflows/fraud_train.pex", sha256="a" * 64, target="//workflows:fraud_train")
JOB_ID = "9081e64f-b2c0-455e-bcaa-c1c211fa124b"
PINNED = re.compile(r"[^@\s]+@sha256:[0-9a-f]{64}")


def manifests(spec, job_id=JOB_ID, config=CONFIG, attempt=1):
    """[NetworkPolicy, ConfigMap, Job]."""
    return render(JobRequest(job_id, spec, BINARY, f"s3://railyard-artifacts/runs/{job_id}", git_commit="c" * 40), config, attempt)


def write_config(tmp_path, **changes):
    raw = {**CONFIG.model_dump(), **changes}
    path = tmp_path / "classes.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def images_of(job: dict) -> list[str]:
    pod = job["spec"]["template"]["spec"]
    return [c["image"] for c in pod.get("initContainers", []) + pod["containers"]]


def with_resource(name: str, resource: str):
    raw = json.loads(SPECS[name].read_text())
    raw["compute_resource"] = resource
    return parse_spec(raw)


@pytest.mark.parametrize("resource", ["CPU", "GPU", "HIGH_MEMORY"])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_spec_and_resource_renders_valid_restricted_manifests(name, resource):
    policy, configmap, job = manifests(with_resource(name, resource))
    assert [m["kind"] for m in (policy, configmap, job)] == ["NetworkPolicy", "ConfigMap", "Job"]
    for manifest in (policy, configmap, job):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        assert violations(manifest) == []
    pod = job["spec"]["template"]["spec"]
    assert images_of(job) and all(PINNED.fullmatch(image) for image in images_of(job))
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= job["spec"]["template"]["metadata"]["labels"].items()
    assert selector["railyard.io/job-id"] == JOB_ID
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in policy["spec"]
    trainer = pod["containers"][0]
    expected = CONFIG.resource_classes[resource]
    assert trainer["resources"] == {"requests": expected.requests, "limits": expected.limits}
    assert pod["nodeSelector"] == expected.node_selector
    assert job["spec"]["activeDeadlineSeconds"] == expected.deadline_seconds
    assert ("nvidia.com/gpu" in trainer["resources"]["limits"]) == (resource == "GPU")
    assert json.loads(configmap["data"]["spec.json"])["compute_resource"] == resource


@pytest.mark.parametrize("measured, asked", [(3 * 2**30 + 1, "3073Mi"), (64 * 2**30, "8192Mi")])
def test_a_sized_job_asks_for_its_estimate_within_the_class_limit(measured, asked):
    job = JobRequest(JOB_ID, with_resource("fraud", "CPU"), BINARY, "s3://x/y", memory_request_bytes=measured)
    *_, manifest = render(job, CONFIG)
    trainer = manifest["spec"]["template"]["spec"]["containers"][0]
    assert trainer["resources"]["requests"] == {**CONFIG.resource_classes["CPU"].requests, "memory": asked}
    assert trainer["resources"]["limits"] == CONFIG.resource_classes["CPU"].limits
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_gpu_job_asks_for_a_gpu_and_tolerates_gpu_nodes():
    *_, job = manifests(with_resource("mlp", "GPU"))
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["priorityClassName"] == "railyard-gpu"


def test_job_fields_for_failure_handling_and_provenance():
    _, configmap, job = manifests(load_spec(SPECS["fraud"]))
    spec = job["spec"]
    assert spec["backoffLimit"] == 2 and spec["ttlSecondsAfterFinished"] == 604800
    rules = spec["podFailurePolicy"]["rules"]
    assert rules[0] == {"action": "FailJob", "onExitCodes": {"containerName": "trainer", "operator": "In", "values": [2]}}
    assert rules[1] == {"action": "Ignore", "onExitCodes": {"containerName": "trainer", "operator": "In", "values": [75]}}
    assert rules[2] == {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert spec["template"]["spec"]["terminationGracePeriodSeconds"] == 120
    annotations = job["metadata"]["annotations"]
    assert annotations["railyard.io/git-commit"] == "c" * 40
    assert annotations["railyard.io/binary-sha256"] == "a" * 64
    assert annotations["railyard.io/model-name"] == "fraud prediction model"
    assert job["metadata"]["labels"]["railyard.io/job-id"] == JOB_ID
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "railyard-trainer"
    assert pod["initContainers"][0]["command"][3] == f"s3://railyard-artifacts/binaries/{'a' * 64}.pex"
    assert "sha256sum -c" in pod["containers"][0]["args"][0]
    assert pod["volumes"][1]["configMap"]["name"] == configmap["metadata"]["name"]
    rendered = to_yaml(manifests(load_spec(SPECS["fraud"])))
    for secret in ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "password", "token:"):
        assert secret not in rendered


HOSTILE = [
    'evil"\nkind: Pod\nmetadata: {name: pwned}',
    "x: [1, 2]\n- {injected: true}",
    "'; rm -rf / #",
    "}}{{ config }}",
    "a\u2028b",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_cannot_change_the_manifest_structure(value):
    # The spec refuses control characters in names; the manifests must hold even for a spec that skipped that check.
    spec = load_spec(SPECS["fraud"])
    spec = spec.model_copy(update={"metadata": spec.metadata.model_copy(update=dict(model_name=value, owner=value, project=value))})
    policy, configmap, job = manifests(spec)
    baseline_policy, _, baseline_job = manifests(load_spec(SPECS["fraud"]))
    assert job["metadata"]["annotations"]["railyard.io/model-name"] == value
    assert job["metadata"]["annotations"]["railyard.io/owner"] == value
    assert json.loads(configmap["data"]["spec.json"])["metadata"]["owner"] == value
    assert set(job) == set(baseline_job) and set(job["spec"]) == set(baseline_job["spec"])
    assert job["kind"] == "Job" and job["metadata"]["name"] == baseline_job["metadata"]["name"]
    assert policy["spec"] == baseline_policy["spec"]
    for manifest in (policy, configmap, job):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_unknown_resource_class_lists_the_known_ones():
    trimmed = LaunchConfig.model_validate({**CONFIG.model_dump(), "resource_classes": {"CPU": {**CONFIG.resource_classes["CPU"].model_dump(), "larger": None}}})
    with pytest.raises(UserError, match="compute_resource: 'GPU' is not a configured resource class; known: CPU"):
        render(JobRequest(JOB_ID, with_resource("fraud", "GPU"), BINARY, "s3://x/y"), trimmed)


def test_policy_checker_catches_violations():
    *_, job = manifests(load_spec(SPECS["fraud"]))
    pod = job["spec"]["template"]["spec"]
    pod["hostNetwork"] = True
    pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    pod["containers"][0]["securityContext"]["capabilities"] = {"add": ["SYS_ADMIN"]}
    pod["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    found = violations(job)
    assert any("hostNetwork" in v for v in found)
    assert any("allowPrivilegeEscalation" in v for v in found)
    assert any("capabilities.drop: must include ALL" in v for v in found)
    assert any("SYS_ADMIN" in v for v in found)
    assert any("hostPath is not allowed" in v for v in found)


def test_resource_class_config_errors_name_the_field(tmp_path):
    bad = CONFIG.model_dump()
    bad["resource_classes"]["CPU"]["requests"]["memory"] = "16Gi"
    (tmp_path / "classes.yaml").write_text(__import__("yaml").safe_dump(bad))
    with pytest.raises(SpecError, match="resource_classes.CPU: requests.memory 16Gi is above limits.memory 8Gi"):
        load_config(tmp_path / "classes.yaml")


@pytest.mark.parametrize("larger, error", [
    ("TPU", "resource_classes.CPU.larger: 'TPU' is not a resource class here"),
    ("CPU", "resource_classes.CPU.larger: CPU has no more memory than CPU (8Gi against 8Gi)"),
])
def test_a_larger_class_must_exist_and_have_more_memory(tmp_path, larger, error):
    bad = CONFIG.model_dump()
    bad["resource_classes"]["CPU"]["larger"] = larger
    (tmp_path / "classes.yaml").write_text(yaml.safe_dump(bad))
    with pytest.raises(SpecError, match=error.replace("(", r"\(").replace(")", r"\)")):
        load_config(tmp_path / "classes.yaml")


def test_shipped_config_pins_every_image():
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    assert raw["allow_unpinned_images"] is False
    assert raw["images"] and all(PINNED.fullmatch(image) for image in raw["images"].values())


def test_unpinned_images_are_refused(tmp_path):
    path = write_config(tmp_path, images={"runner": "python:3.11-slim", "fetcher": CONFIG.images.fetcher})
    with pytest.raises(SpecError) as refused:
        load_config(path)
    assert str(refused.value) == (f"{path}: images.runner: python:3.11-slim is not pinned by digest; "
                                  "expected name[:tag]@sha256:<64 hex digits>, or allow_unpinned_images: true")
    for image in ("python@sha256:abc", "python:3.11-slim@sha256:" + "A" * 64, "python:3.11-slim@sha512:" + "a" * 64):
        with pytest.raises(SpecError, match="images.fetcher: .* is not pinned by digest"):
            load_config(write_config(tmp_path, images={"runner": CONFIG.images.runner, "fetcher": image}))


def test_unpinned_images_are_allowed_when_the_operator_opts_out(tmp_path):
    path = write_config(tmp_path, allow_unpinned_images=True, images={"runner": "python:3.11-slim", "fetcher": "amazon/aws-cli"})
    config = load_config(path)
    *_, job = manifests(load_spec(SPECS["fraud"]), config=config)
    assert images_of(job) == ["amazon/aws-cli", "python:3.11-slim"]


def test_network_policy_allows_only_dns_and_the_artifact_store():
    policy, *_ = manifests(load_spec(SPECS["fraud"]))
    dns, store = policy["spec"]["egress"]
    assert dns == {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                           "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                   "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    assert store == {"to": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], "ports": [{"protocol": "TCP", "port": 443}]}


def test_network_policy_with_dns_by_cidr_and_several_endpoints(tmp_path):
    network_policy = {"dns": {"cidrs": ["10.96.0.10/32"]},
                      "artifact_store": [{"cidr": "10.20.0.0/16", "ports": [443, 9000]}, {"cidr": "fd00::/8", "ports": [443]}]}
    config = load_config(write_config(tmp_path, network_policy=network_policy))
    policy, *_ = manifests(load_spec(SPECS["fraud"]), config=config)
    kubernetes_validate.validate(policy, KUBERNETES_VERSION, strict=True)
    assert [rule["to"] for rule in policy["spec"]["egress"]] == [
        [{"ipBlock": {"cidr": "10.96.0.10/32"}}], [{"ipBlock": {"cidr": "10.20.0.0/16"}}], [{"ipBlock": {"cidr": "fd00::/8"}}]]
    assert policy["spec"]["egress"][1]["ports"] == [{"protocol": "TCP", "port": 443}, {"protocol": "TCP", "port": 9000}]


@pytest.mark.parametrize("network_policy, error", [
    ({"dns": {"namespace": "kube-system"}, "artifact_store": [{"cidr": "10.0.0.1/8", "ports": [443]}]},
     "network_policy.artifact_store.0.cidr: expected a CIDR block such as 10.0.0.0/8, got '10.0.0.1/8'"),
    ({"dns": {"namespace": "kube-system"}, "artifact_store": [{"cidr": "10.0.0.0/8", "ports": [70000]}]},
     "network_policy.artifact_store.0.ports.0: Input should be less than or equal to 65535"),
    ({"dns": {"namespace": "kube-system"}, "artifact_store": []},
     "network_policy.artifact_store: List should have at least 1 item"),
    ({"dns": {"namespace": "kube-system", "cidrs": ["10.96.0.10/32"]}, "artifact_store": [{"cidr": "10.0.0.0/8", "ports": [443]}]},
     "network_policy.dns: expected either namespace (with optional pod_labels) or cidrs"),
    ({"dns": {}, "artifact_store": [{"cidr": "10.0.0.0/8", "ports": [443]}]},
     "network_policy.dns: expected either namespace (with optional pod_labels) or cidrs"),
])
def test_network_policy_config_errors_name_the_field(tmp_path, network_policy, error):
    with pytest.raises(SpecError, match=re.escape(error)):
        load_config(write_config(tmp_path, network_policy=network_policy))


@pytest.mark.parametrize("job_id", [JOB_ID, "job-42", "7", "a" * MAX_JOB_ID_LENGTH])
@pytest.mark.parametrize("workers", [1, 16])
def test_job_ids_that_make_valid_names(job_id, workers):
    spec = load_spec(SPECS["fraud"]).model_copy(update={"workers": workers})
    for attempt in (1, MAX_ATTEMPTS):
        for manifest in manifests(spec, job_id=job_id, attempt=attempt):
            longest = 63 - len("-15") if manifest["kind"] == "Job" else 63  # an Indexed Job's pods' hostnames: <job>-<index>
            assert len(manifest["metadata"]["name"]) <= longest
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("job_id", ["Job-42", "job_42", "-job", "job-", "job.42", "", "job 42", "job-42\n", "a" * (MAX_JOB_ID_LENGTH + 1)])
def test_job_ids_that_are_not_dns_labels_are_refused(job_id):
    with pytest.raises(UserError) as refused:
        manifests(load_spec(SPECS["fraud"]), job_id=job_id)
    message = str(refused.value)
    assert message == (f"job id {job_id!r}: expected lowercase letters, digits and '-', starting and ending with a letter "
                       f"or digit, at most {MAX_JOB_ID_LENGTH} characters (a DNS-1123 label, as Kubernetes names need)")
    assert "\n" not in message
