"""End to end on a real cluster (kind, k3d or any other): the fraud trainer as a Kubernetes Job.

Runs only when all of these are set, and says why it was skipped otherwise:
  KUBECONFIG                  a kubeconfig whose current context reaches the cluster
  RAILYARD_E2E_ARTIFACTS      an s3:// prefix that both this machine and the cluster's pods can use
                              (for kind: a MinIO in the cluster, with AWS_ENDPOINT_URL set here and
                              an IRSA-style identity or instance role for the pods)
  RAILYARD_E2E_DATA           the s3:// URI of sample charges (python -m workflows.data.charges, then upload)
The namespace and service account of railyard/launch/templates/resource_classes.yaml must exist. Its image
digests are examples and its network_policy allows 10.0.0.0/8 on 443 only: set
RAILYARD_LAUNCH_CONFIG to a copy with your registry's digests and your artifact store's endpoints.
"""

import os

import pytest

from railyard.launch.binary import resolve
from railyard.launch.job import JobRequest, JobState
from railyard.launch.render import output_uri
from railyard.launch.resources import load_config
from railyard.spec import load_spec
from tests.conftest import SPECS

pytestmark = pytest.mark.slow
NEEDED = ("KUBECONFIG", "RAILYARD_E2E_ARTIFACTS", "RAILYARD_E2E_DATA")


def cluster_reachable() -> str | None:
    missing = [name for name in NEEDED if not os.environ.get(name)]
    if missing:
        return f"no cluster end-to-end run: {', '.join(missing)} not set (see this file's docstring)"
    from kubernetes import client, config

    try:
        config.load_kube_config()
        client.VersionApi().get_code(_request_timeout=5)
    except Exception as exc:  # any failure to reach the API server means: skip
        return f"no cluster end-to-end run: the cluster in KUBECONFIG is not reachable ({exc})"
    return None


def test_fraud_trainer_runs_as_a_kubernetes_job():
    reason = cluster_reachable()
    if reason:
        pytest.skip(reason)
    from railyard.launch.kubernetes import KubernetesExecutor

    config = load_config().model_copy(update={"artifacts": os.environ["RAILYARD_E2E_ARTIFACTS"]})
    spec = load_spec(SPECS["fraud"])
    source = spec.data.features[0].model_copy(update={"path": os.environ["RAILYARD_E2E_DATA"]})
    spec = spec.model_copy(update={"data": spec.data.model_copy(update={"features": [source]})})
    job_id = f"e2e-{os.getpid()}"
    executor = KubernetesExecutor(config)
    executor.submit(JobRequest(job_id, spec, resolve("//workflows:fraud_train"), output_uri(config, job_id)))
    final = list(executor.watch(job_id, timeout_seconds=1800))[-1]
    assert final.state is JobState.complete, f"{final.describe()}\n{executor.logs(job_id)}"
