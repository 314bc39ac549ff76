"""Rendered manifests: valid against the official Kubernetes schemas (strict), within the
restricted Pod Security profile, sized by the resource class, and immune to hostile values."""

import json

import kubernetes_validate
import pytest

from railyard.launch.job import Binary, JobRequest
from railyard.launch.pod_security import violations
from railyard.launch.render import render, to_yaml
from railyard.errors import UserError
from railyard.launch.resources import LaunchConfig, load_config
from railyard.spec import load_spec, parse_spec
from tests.conftest import SPECS

KUBERNETES_VERSION = "1.31.0"
CONFIG = load_config()
BINARY = Binary(path="bazel-bin/workflows/fraud_train.pex", sha256="a" * 64, target="//workflows:fraud_train")
JOB_ID = "9081e64f-b2c0-455e-bcaa-c1c211fa124b"


def manifests(spec, job_id=JOB_ID):
    return render(JobRequest(job_id, spec, BINARY, f"s3://railyard-artifacts/runs/{job_id}", git_commit="c" * 40), CONFIG)


def with_resource(name: str, resource: str):
    raw = json.loads(SPECS[name].read_text())
    raw["compute_resource"] = resource
    return parse_spec(raw)


@pytest.mark.parametrize("resource", ["CPU", "GPU", "HIGH_MEMORY"])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_spec_and_resource_renders_valid_restricted_manifests(name, resource):
    configmap, job = manifests(with_resource(name, resource))
    for manifest in (configmap, job):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    assert violations(job) == []
    pod = job["spec"]["template"]["spec"]
    trainer = pod["containers"][0]
    expected = CONFIG.resource_classes[resource]
    assert trainer["resources"] == {"requests": expected.requests, "limits": expected.limits}
    assert pod["nodeSelector"] == expected.node_selector
    assert job["spec"]["activeDeadlineSeconds"] == expected.deadline_seconds
    assert ("nvidia.com/gpu" in trainer["resources"]["limits"]) == (resource == "GPU")
    assert json.loads(configmap["data"]["spec.json"])["compute_resource"] == resource


def test_gpu_job_asks_for_a_gpu_and_tolerates_gpu_nodes():
    _, job = manifests(with_resource("mlp", "GPU"))
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["priorityClassName"] == "railyard-gpu"


def test_job_fields_for_failure_handling_and_provenance():
    configmap, job = manifests(load_spec(SPECS["fraud"]))
    spec = job["spec"]
    assert spec["backoffLimit"] == 2 and spec["ttlSecondsAfterFinished"] == 604800
    rules = spec["podFailurePolicy"]["rules"]
    assert rules[0] == {"action": "FailJob", "onExitCodes": {"containerName": "trainer", "operator": "In", "values": [2]}}
    assert rules[1] == {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
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
    rendered = to_yaml([configmap, job])
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
    raw = json.loads(SPECS["fraud"].read_text())
    raw["metadata"].update(model_name=value, owner=value, project=value)
    configmap, job = manifests(parse_spec(raw))
    baseline_configmap, baseline_job = manifests(load_spec(SPECS["fraud"]))
    assert job["metadata"]["annotations"]["railyard.io/model-name"] == value
    assert job["metadata"]["annotations"]["railyard.io/owner"] == value
    assert json.loads(configmap["data"]["spec.json"])["metadata"]["owner"] == value
    assert set(job) == set(baseline_job) and set(job["spec"]) == set(baseline_job["spec"])
    assert job["kind"] == "Job" and job["metadata"]["name"] == baseline_job["metadata"]["name"]
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    kubernetes_validate.validate(configmap, KUBERNETES_VERSION, strict=True)


def test_unknown_resource_class_lists_the_known_ones():
    trimmed = LaunchConfig.model_validate({**CONFIG.model_dump(), "resource_classes": {"CPU": CONFIG.resource_classes["CPU"].model_dump()}})
    with pytest.raises(UserError, match="compute_resource: 'GPU' is not a configured resource class; known: CPU"):
        render(JobRequest(JOB_ID, with_resource("fraud", "GPU"), BINARY, "s3://x/y"), trimmed)


def test_policy_checker_catches_violations():
    _, job = manifests(load_spec(SPECS["fraud"]))
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
    from railyard.errors import SpecError

    bad = CONFIG.model_dump()
    bad["resource_classes"]["CPU"]["requests"]["memory"] = "16Gi"
    (tmp_path / "classes.yaml").write_text(__import__("yaml").safe_dump(bad))
    with pytest.raises(SpecError, match="resource_classes.CPU: requests.memory 16Gi is above limits.memory 8Gi"):
        load_config(tmp_path / "classes.yaml")
