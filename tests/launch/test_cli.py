"""`railyard render` prints valid manifests; errors are one line naming what is wrong."""

import subprocess
import sys

import kubernetes_validate
import yaml

from tests.conftest import REPO, SPECS


def railyard(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "railyard.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=120)


def test_render_prints_the_network_policy_configmap_and_job(tmp_path):
    pex = tmp_path / "trainer.pex"
    pex.write_bytes(b"not really a pex")
    run = railyard("render", "--spec", str(SPECS["mlp"]), "--binary", str(pex), "--job-id", "job-42")
    assert run.returncode == 0, run.stderr
    policy, configmap, job = list(yaml.safe_load_all(run.stdout))
    assert (policy["kind"], configmap["kind"], job["kind"]) == ("NetworkPolicy", "ConfigMap", "Job")
    assert job["metadata"]["name"] == "railyard-job-42"
    assert policy["spec"]["podSelector"]["matchLabels"]["railyard.io/job-id"] == "job-42"
    assert job["spec"]["template"]["spec"]["containers"][0]["env"][1]["value"] == "s3://railyard-artifacts/runs/job-42"
    assert job["metadata"]["annotations"]["railyard.io/git-commit"] == "unknown"  # not a stamped pex
    for manifest in (policy, configmap, job):
        kubernetes_validate.validate(manifest, "1.31.0", strict=True)


def test_render_refuses_a_job_id_that_is_not_a_dns_label(tmp_path):
    pex = tmp_path / "trainer.pex"
    pex.write_bytes(b"not really a pex")
    run = railyard("render", "--spec", str(SPECS["mlp"]), "--binary", str(pex), "--job-id", "Job_42")
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.strip() == (
        "railyard render: job id 'Job_42': expected lowercase letters, digits and '-', starting and ending with a letter "
        "or digit, at most 45 characters (a DNS-1123 label, as Kubernetes names need)")


def test_render_errors_are_one_line():
    run = railyard("render", "--spec", str(SPECS["fraud"]), "--binary", "dev")
    assert run.returncode == 2
    assert run.stderr.strip() == "railyard render: --binary dev runs only on the local backend; render a .pex or a Bazel target"
    run = railyard("render", "--spec", str(SPECS["fraud"]), "--binary", "nowhere.pex")
    assert run.returncode == 2
    assert "--binary: nowhere.pex is neither a Bazel target" in run.stderr
