"""Render the Kubernetes manifests of a job from the Jinja2 templates in railyard/launch/templates/.

Every value reaches the templates through the `q` filter, which writes it as a
JSON string or object; JSON is YAML, so a model name or owner holding quotes,
newlines or YAML syntax stays one value and cannot change the manifest's
structure. Labels carry sanitized values (Kubernetes label syntax); annotations
carry the exact ones.

The trainer's arguments (`--spec …`, or an explanation's `--explain --model=…`)
reach it as separate words through `sh -c '…' trainer ARG…`, never through the
shell's parsing.

A job with several workers (`workers: N`) is an Indexed Job of N pods plus a
headless Service (`railyard-<id>-workers`) that names them `<job>-<index>.<service>`;
every worker gets RAILYARD_WORKERS, RAILYARD_WORKER_INDEX (its completion index),
and worker 0's name and the rendezvous port as RAILYARD_RENDEZVOUS_HOST/_PORT.
Every worker gets the job's data prefixes as RAILYARD_DATA_PREFIXES (left out: no restriction).

With `kueue` in the launch config, the Job carries the label `kueue.x-k8s.io/queue-name` naming its
owner's LocalQueue and is rendered suspended (`spec.suspend: true`): Kueue resumes it once admitted.

A job id must be a DNS-1123 label short enough that every name made from it
(`railyard-<id>`, `railyard-<id>-spec`, `-network`, `-workers`) is one too, for
each attempt: a job the service starts again (docs/reliability.md) gets a Job of
its own, `railyard<n>-<id>` for its n-th attempt (at most MAX_ATTEMPTS), whose
objects and pods carry the label `railyard.io/attempt`.
"""

from __future__ import annotations

import json
import math
import re

import jinja2
import yaml

from railyard.errors import EXIT_BAD_SPEC, EXIT_PREEMPTED, UserError
from railyard.launch.job import JobRequest
from railyard.launch.resources import LaunchConfig, NetworkPolicySettings, ResourceClass
from railyard.run_layout import RunLayout
from railyard.storage.prefixes import environment_value

# Package data, read through importlib.resources: found in a pex or an installed wheel too.
TEMPLATES = ("railyard.launch", "templates")
PREFIX = "railyard.io"
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
NAME_PREFIX = "railyard-"
CONFIGMAP_SUFFIX, NETWORK_POLICY_SUFFIX, SERVICE_SUFFIX = "-spec", "-network", "-workers"
MAX_ATTEMPTS = 9  # one digit in `railyard<n>-`
ATTEMPT_LABEL = f"{PREFIX}/attempt"
MAX_JOB_ID_LENGTH = 63 - len(NAME_PREFIX) - 1 - max(len(CONFIGMAP_SUFFIX), len(NETWORK_POLICY_SUFFIX), len(SERVICE_SUFFIX))
_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
DNS_PORT = 53
SPEC_MOUNT = "/etc/railyard"
# Workers meet at worker 0: XGBoost's tracker on RENDEZVOUS_PORT, torch.distributed's store on the next port.
# Their links to each other then use ports the system picks (the ephemeral range, above these), so workers
# may reach each other over TCP from RENDEZVOUS_PORT up.
RENDEZVOUS_PORT = 29500
WORKER_PORTS = [{"protocol": "TCP", "port": RENDEZVOUS_PORT, "endPort": 65535}]

# Pod Security Standards, restricted profile.
POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 10001,
    "runAsGroup": 10001,
    "fsGroup": 10001,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def label_value(text: str | None) -> str:
    """A valid label value: at most 63 of [A-Za-z0-9-_.], starting and ending alphanumeric."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text or "")[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned)


def job_name(job_id: str, attempt: int = 1) -> str:
    """The Job of a job's attempt: `railyard-<id>` for the first, `railyard<n>-<id>` for the n-th, a name no
    job id makes for its first."""
    prefix = NAME_PREFIX if attempt == 1 else f"{NAME_PREFIX[:-1]}{attempt}-"
    return f"{prefix}{label_value(job_id).lower()}"[:63].rstrip("-.")


def attempt_of(obj: dict) -> int:
    """Which attempt of its job a Job or pod belongs to (1 for one made before attempts had a label)."""
    value = (obj.get("metadata", {}).get("labels") or {}).get(ATTEMPT_LABEL, "")
    return int(value) if value.isdigit() else 1


def check_job_id(job_id: str) -> str:
    """The job id if the Kubernetes names made from it are valid, else a UserError saying what is expected."""
    if len(job_id) > MAX_JOB_ID_LENGTH or not _DNS_LABEL.fullmatch(job_id):
        raise UserError(f"job id {job_id!r}: expected lowercase letters, digits and '-', starting and ending with a letter "
                        f"or digit, at most {MAX_JOB_ID_LENGTH} characters (a DNS-1123 label, as Kubernetes names need)")
    return job_id


def egress_rules(policy: NetworkPolicySettings) -> list[dict]:
    """NetworkPolicy egress rules: DNS over UDP and TCP, then each artifact store endpoint over TCP."""
    dns = policy.dns
    if dns.namespace is not None:
        peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": dns.namespace}}}
        if dns.pod_labels:
            peer["podSelector"] = {"matchLabels": dns.pod_labels}
        dns_peers = [peer]
    else:
        dns_peers = [{"ipBlock": {"cidr": cidr}} for cidr in dns.cidrs]
    rules = [{"to": dns_peers, "ports": [{"protocol": protocol, "port": DNS_PORT} for protocol in ("UDP", "TCP")]}]
    for endpoint in policy.artifact_store:
        rules.append({"to": [{"ipBlock": {"cidr": endpoint.cidr}}],
                      "ports": [{"protocol": "TCP", "port": port} for port in endpoint.ports]})
    return rules


def service_name(job_id: str, attempt: int = 1) -> str:
    """The headless Service that names the workers of a job's attempt."""
    return f"{job_name(job_id, attempt)}{SERVICE_SUFFIX}"


def rendezvous_host(job_id: str, attempt: int = 1) -> str:
    """Worker 0's DNS name (resolved through the pod's namespace search path)."""
    return f"{job_name(job_id, attempt)}-0.{service_name(job_id, attempt)}"


def worker_rules(pod_selector: dict) -> tuple[dict, dict]:
    """NetworkPolicy (ingress, egress) rules letting a job's workers, and only they, reach each other."""
    peers = [{"podSelector": {"matchLabels": pod_selector}}]
    return {"from": peers, "ports": WORKER_PORTS}, {"to": peers, "ports": WORKER_PORTS}


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader(*TEMPLATES),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    environment.filters["q"] = lambda value: json.dumps(value, ensure_ascii=True)
    return environment


def binary_uri(config: LaunchConfig, sha256: str) -> str:
    return f"{config.artifacts.rstrip('/')}/binaries/{sha256}.pex"


def output_uri(config: LaunchConfig, job_id: str) -> str:
    return RunLayout.under_root(config.artifacts, job_id).output


def requests_of(resource: ResourceClass, memory_bytes: int | None) -> dict[str, str]:
    """The class's requests, with the memory request sized for the job where it was (never above the class's limit)."""
    if memory_bytes is None:
        return dict(resource.requests)
    mebibytes = math.ceil(min(memory_bytes, resource.memory_limit_bytes) / 2**20)
    return {**resource.requests, "memory": f"{mebibytes}Mi"}


def render(job: JobRequest, config: LaunchConfig, attempt: int = 1) -> list[dict]:
    """[NetworkPolicy, ConfigMap, Job] for the job's compute resource and its `attempt`, in the order to apply
    them; with several workers, [NetworkPolicy, ConfigMap, Service, Job]."""
    check_job_id(job.job_id)
    if not 1 <= attempt <= MAX_ATTEMPTS:
        raise UserError(f"attempt {attempt} of job {job.job_id}: a job runs at most {MAX_ATTEMPTS} times on Kubernetes")
    spec = job.spec
    resource = config.resource_class(spec.compute_resource.value)
    workflow = spec.train.workflow_name
    labels = {
        "app.kubernetes.io/name": "railyard",
        "app.kubernetes.io/component": "trainer",
        f"{PREFIX}/job-id": label_value(job.job_id),
        f"{PREFIX}/owner": label_value(spec.metadata.owner),
        f"{PREFIX}/project": label_value(spec.metadata.project),
        f"{PREFIX}/workflow": label_value(workflow),
        f"{PREFIX}/compute-resource": label_value(spec.compute_resource.value),
        f"{PREFIX}/kind": job.kind.value,
        ATTEMPT_LABEL: str(attempt),
    }
    annotations = {
        f"{PREFIX}/job-id": job.job_id,
        f"{PREFIX}/owner": spec.metadata.owner,
        f"{PREFIX}/project": spec.metadata.project,
        f"{PREFIX}/model-name": spec.metadata.model_name,
        f"{PREFIX}/workflow": workflow,
        f"{PREFIX}/git-commit": job.git_commit,
        f"{PREFIX}/binary-sha256": job.binary.sha256,
        f"{PREFIX}/binary-target": job.binary.target or "",
        f"{PREFIX}/spec-hash": spec.spec_hash(),
        f"{PREFIX}/output": job.output,
        f"{PREFIX}/kind": job.kind.value,
    }
    if job.explanation is not None:
        annotations[f"{PREFIX}/explains"] = job.explanation.model
    job_labels = labels if config.kueue is None else {**labels, KUEUE_QUEUE_LABEL: config.kueue.queue_for(spec.metadata.owner)}
    name = job_name(job.job_id, attempt)
    pod_selector = {k: labels[k] for k in ("app.kubernetes.io/name", f"{PREFIX}/job-id", ATTEMPT_LABEL)}
    egress, ingress = egress_rules(config.network_policy), []
    if job.workers > 1:
        from_workers, to_workers = worker_rules(pod_selector)
        ingress, egress = [from_workers], [*egress, to_workers]
    values = {
        "config": config,
        "resource": resource,
        "requests": requests_of(resource, job.memory_request_bytes),
        "tolerations": [t.model_dump(exclude_none=True) for t in resource.tolerations],
        "name": name,
        "configmap_name": f"{name}{CONFIGMAP_SUFFIX}",
        "network_policy_name": f"{name}{NETWORK_POLICY_SUFFIX}",
        "pod_selector": pod_selector,
        "egress": egress,
        "ingress": ingress,
        "workers": job.workers,
        "service_name": service_name(job.job_id, attempt),
        "service_ports": [{"name": "tracker", "protocol": "TCP", "port": RENDEZVOUS_PORT},
                          {"name": "store", "protocol": "TCP", "port": RENDEZVOUS_PORT + 1}],
        "rendezvous_host": rendezvous_host(job.job_id, attempt),
        "rendezvous_port": RENDEZVOUS_PORT,
        "job_id": job.job_id,
        "exit_bad_spec": EXIT_BAD_SPEC,
        "exit_preempted": EXIT_PREEMPTED,
        "labels": labels,
        "job_labels": job_labels,
        "suspend": config.kueue is not None,
        "annotations": annotations,
        "output": job.output,
        "binary_uri": binary_uri(config, job.binary.sha256),
        "binary_sha256": job.binary.sha256,
        "spec_json": spec.to_json(),
        "spec_mount": SPEC_MOUNT,
        "trainer_arguments": job.explanation.arguments() if job.explanation else ["--spec", f"{SPEC_MOUNT}/spec.json"],
        "data_prefixes": environment_value(job.data_prefixes),
        "pod_security": POD_SECURITY,
        "container_security": CONTAINER_SECURITY,
    }
    environment = _environment()
    templates = ["networkpolicy.yaml.j2", "configmap.yaml.j2", "job.yaml.j2"]
    if job.workers > 1:
        templates.insert(2, "service.yaml.j2")
    return [yaml.safe_load(environment.get_template(t).render(values)) for t in templates]


def to_yaml(manifests: list[dict]) -> str:
    return yaml.safe_dump_all(manifests, sort_keys=False, width=120)
