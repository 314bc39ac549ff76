"""Kueue, behind `kueue` in the launch config: the Job carries its owner's LocalQueue in the label
kueue.x-k8s.io/queue-name and is created suspended for Kueue to admit, valid against the official schemas
(strict) and the restricted profile; owners map to queues by name or by a pattern, and an owner without one is
refused naming the setting; the executor creates the NetworkPolicy and ConfigMap before the Job (Kueue may
resume it the moment it exists), never resumes it itself, and makes them the Job's once it exists."""

import kubernetes_validate
import pytest
import yaml
from kubernetes import client

from railyard.errors import SpecError, UserError
from railyard.launch.kubernetes import KubernetesExecutor
from railyard.launch.pod_security import violations
from railyard.launch.render import KUEUE_QUEUE_LABEL
from railyard.launch.resources import DEFAULT_CONFIG, KueueSettings, load_config
from tests.launch.test_kubernetes import JOB_ID, NAME, POLICY, fake, job  # noqa: F401 (fixtures)
from tests.launch.test_render import CONFIG, KUBERNETES_VERSION, manifests, with_resource, write_config

KUEUE = CONFIG.model_copy(update={"kueue": KueueSettings(queues={"fraud-team": "fraud", "alice": "fraud"},
                                                         queue_pattern="team-{owner}")})


def owned_by(owner: str, resource: str = "CPU", workers: int = 1):
    spec = with_resource("fraud", resource).model_copy(update={"workers": workers})
    return spec.model_copy(update={"metadata": spec.metadata.model_copy(update={"owner": owner})})


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize("resource", ["CPU", "GPU"])
def test_a_job_renders_suspended_in_its_owners_local_queue_valid_and_restricted(resource, workers):
    rendered = manifests(owned_by("fraud-team", resource, workers), config=KUEUE)
    for manifest in rendered:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        assert violations(manifest) == []
    policy, *_, job = rendered
    assert [m["kind"] for m in rendered][0] == "NetworkPolicy" and job["kind"] == "Job"
    assert job["metadata"]["labels"][KUEUE_QUEUE_LABEL] == "fraud"
    assert job["spec"]["suspend"] is True
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= job["spec"]["template"]["metadata"]["labels"].items()
    assert all(KUEUE_QUEUE_LABEL not in m["metadata"]["labels"] for m in rendered[:-1])


def test_without_kueue_the_job_has_no_queue_and_is_not_rendered_suspended():
    *_, job = manifests(owned_by("fraud-team"))
    assert KUEUE_QUEUE_LABEL not in job["metadata"]["labels"] and "suspend" not in job["spec"]


@pytest.mark.parametrize("owner, queue", [("alice", "fraud"), ("risk", "team-risk"), ("Risk_Ops.EU", "team-risk-ops-eu")])
def test_owners_map_to_queues_by_name_then_by_pattern(owner, queue):
    *_, job = manifests(owned_by(owner), config=KUEUE)
    assert job["metadata"]["labels"][KUEUE_QUEUE_LABEL] == queue
    assert job["metadata"]["annotations"]["railyard.io/owner"] == owner


def test_an_owner_without_a_queue_is_refused_naming_the_setting():
    named_only = CONFIG.model_copy(update={"kueue": KueueSettings(queues={"fraud-team": "fraud"})})
    with pytest.raises(UserError, match=r"^metadata.owner: 'bob' has no Kueue LocalQueue; add it to kueue.queues"):
        manifests(owned_by("bob"), config=named_only)
    with pytest.raises(UserError, match=r"gives 'team-" + "b" * 60 + "' through kueue.queue_pattern, not a LocalQueue name"):
        manifests(owned_by("b" * 60), config=KUEUE)


def test_the_kueue_setting_is_read_and_checked_with_the_launch_config(tmp_path):
    path = write_config(tmp_path, kueue={"queues": {"fraud-team": "fraud"}, "queue_pattern": "{owner}"})
    assert load_config(path).kueue.queue_for("risk") == "risk"
    assert load_config(write_config(tmp_path)).kueue is None
    for kueue, words in (({"queues": {"fraud-team": "Fraud Queue"}}, "kueue.queues.fraud-team: 'Fraud Queue' is not a LocalQueue name"),
                         ({"queue_pattern": "shared"}, "kueue.queue_pattern: 'shared' does not name the owner"),
                         ({"queue": "x"}, "kueue.queue: Extra inputs are not permitted")):
        with pytest.raises(SpecError, match=words):
            load_config(write_config(tmp_path, kueue=kueue))
    assert "kueue" not in yaml.safe_load(DEFAULT_CONFIG.read_text())  # off unless the operator's cluster has Kueue


@pytest.fixture
def kueue_executor(fake, aws):
    aws.create_bucket(Bucket="railyard-artifacts")
    config = KUEUE.model_copy(update={"artifacts": "s3://railyard-artifacts"})
    executor = KubernetesExecutor(config, api=client.ApiClient(client.Configuration(host=fake.url)), watch_seconds=1)
    yield executor
    executor.close()


def test_the_policy_exists_before_the_job_and_kueue_alone_resumes_it(kueue_executor, fake, job):
    kueue_executor.submit(job)  # owned by machine-learning-infrastructure: its queue comes from the pattern
    posts = [path.rsplit("/", 1)[-1] for method, path in fake.requests if method == "POST"]
    assert posts.index("networkpolicies") < posts.index("jobs") and posts.index("configmaps") < posts.index("jobs")
    created = next(obj for _, kind, event, obj in fake.events if kind == "jobs" and event == "ADDED")
    assert created["spec"]["suspend"] is True and created["metadata"]["labels"][KUEUE_QUEUE_LABEL] == "team-machine-learning-infrastructure"
    assert ("PATCH", f"/apis/batch/v1/namespaces/railyard/jobs/{NAME}") not in fake.requests
    assert fake.job(NAME)["spec"]["suspend"] is True  # until Kueue admits it
    uid = fake.job(NAME)["metadata"]["uid"]
    for key in (POLICY, ("configmaps", "railyard", f"{NAME}-spec")):
        assert fake.objects[key]["metadata"]["ownerReferences"][0]["uid"] == uid
    kueue_executor.submit(job)  # a retried submit is accepted, nothing duplicated
    assert len([k for k in fake.objects if k[0] in ("jobs", "configmaps", "networkpolicies")]) == 3
    kueue_executor.cancel(JOB_ID)  # what it owns goes with it
    assert not [k for k in fake.objects if k[0] in ("jobs", "configmaps", "networkpolicies")]
