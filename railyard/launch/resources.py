"""Resource classes: what each compute resource (CPU, GPU, HIGH_MEMORY) needs from Kubernetes.

Read from railyard/launch/templates/resource_classes.yaml (or the operator's own file) and
validated on load, e.g.

    config = load_config()
    config.resource_class("GPU").limits["nvidia.com/gpu"]  # "1"

Images must be pinned by digest (`name[:tag]@sha256:<64 hex>`) unless the file
says `allow_unpinned_images: true`; `network_policy` names the only places the
trainer pods may connect to: the cluster DNS and the artifact store. With
`kueue`, Kueue admits the Jobs: each is created suspended in its owner's LocalQueue.
"""

from __future__ import annotations

import importlib.resources
import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from railyard.errors import SpecError, UserError

# Package data, read through importlib.resources: found in a pex or an installed wheel too.
DEFAULT_CONFIG = importlib.resources.files("railyard.launch") / "templates" / "resource_classes.yaml"
_QUANTITY = re.compile(r"^(?P<number>[0-9]+(\.[0-9]+)?)(?P<suffix>m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_PINNED_IMAGE = re.compile(r"[a-z0-9][A-Za-z0-9._/:-]*@sha256:[0-9a-f]{64}")
_FACTORS = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
            "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def quantity(text: str) -> float:
    """A Kubernetes quantity as a number: '8Gi' → 8589934592, '500m' → 0.5."""
    match = _QUANTITY.match(str(text))
    if not match:
        raise ValueError(f"expected a Kubernetes quantity such as 500m, 2 or 8Gi, got {text!r}")
    return float(match["number"]) * _FACTORS[match["suffix"]]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Toleration(_Strict):
    key: str
    operator: Literal["Exists", "Equal"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None


class ResourceClass(_Strict):
    requests: dict[str, str]
    limits: dict[str, str]
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    priority_class: str | None = None
    deadline_seconds: int = Field(gt=0)
    # Between SIGTERM and SIGKILL: time for the trainer to write a checkpoint at its next iteration (exit 75).
    termination_grace_seconds: int = Field(default=120, ge=1, le=3600)
    # Where a run OOMKilled on this class runs once more, when its spec says allow_larger_class.
    larger: str | None = None

    @field_validator("requests", "limits", mode="before")
    @classmethod
    def _quantities(cls, value: dict) -> dict:
        value = {k: str(v) for k, v in (value or {}).items()}
        for amount in value.values():
            quantity(amount)
        return value

    @model_validator(mode="after")
    def _requests_within_limits(self) -> "ResourceClass":
        for name, amount in self.requests.items():
            if name in self.limits and quantity(amount) > quantity(self.limits[name]):
                raise ValueError(f"requests.{name} {amount} is above limits.{name} {self.limits[name]}")
        if "memory" not in self.limits:
            raise ValueError("limits.memory is required: every trainer runs with a memory limit")
        return self

    @property
    def memory_limit_bytes(self) -> int:
        return int(quantity(self.limits["memory"]))


def _cidr(text: str) -> str:
    try:
        return str(ipaddress.ip_network(text))
    except ValueError:
        raise ValueError(f"expected a CIDR block such as 10.0.0.0/8, got {text!r}") from None


Cidr = Annotated[str, AfterValidator(_cidr)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Images(_Strict):
    runner: str
    fetcher: str

    def unpinned(self) -> list[str]:
        """A problem for each image not pinned by digest."""
        return [f"images.{field}: {image} is not pinned by digest" for field, image in self if not _PINNED_IMAGE.fullmatch(image)]


class DnsEgress(_Strict):
    """The cluster DNS: its pods in a namespace (optionally narrowed by their labels), or fixed CIDRs."""

    namespace: str | None = None
    pod_labels: dict[str, str] = Field(default_factory=dict)
    cidrs: list[Cidr] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_kind_of_peer(self) -> "DnsEgress":
        if (self.namespace is None) == (not self.cidrs):
            raise ValueError("expected either namespace (with optional pod_labels) or cidrs")
        if self.pod_labels and self.namespace is None:
            raise ValueError("pod_labels needs namespace")
        return self


class CidrEgress(_Strict):
    cidr: Cidr
    ports: list[Port] = Field(min_length=1)


class NetworkPolicySettings(_Strict):
    dns: DnsEgress
    artifact_store: list[CidrEgress] = Field(min_length=1)


class JobSettings(_Strict):
    backoff_limit: int = Field(default=2, ge=0)
    ttl_seconds_after_finished: int = Field(default=604800, ge=0)


_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_QUEUE_NAME = "lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"


def _queue_name(name: str) -> str:
    if not _DNS_LABEL.fullmatch(name):
        raise ValueError(f"{name!r} is not a LocalQueue name: expected {_QUEUE_NAME}")
    return name


class KueueSettings(_Strict):
    """Kueue (kueue.x-k8s.io) admits the Jobs: each is created suspended, labelled with the LocalQueue of its
    owner (a person or a team): `queues` names it per owner; for other owners `queue_pattern` makes it, its
    `{owner}` replaced by the owner in lowercase with anything but letters, digits and '-' made '-'.
    Without a pattern, the job of an owner not in `queues` is refused."""

    queues: dict[str, Annotated[str, AfterValidator(_queue_name)]] = Field(default_factory=dict)
    queue_pattern: str | None = None

    @field_validator("queue_pattern")
    @classmethod
    def _pattern_names_the_owner(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            if pattern.replace("{owner}", "") == pattern:
                raise ValueError(f"{pattern!r} does not name the owner: expected a pattern such as '{{owner}}' or 'team-{{owner}}'")
            _queue_name(pattern.replace("{owner}", "x"))
        return pattern

    def queue_for(self, owner: str) -> str:
        """The LocalQueue that admits `owner`'s jobs; a UserError when the config names none."""
        if owner in self.queues:
            return self.queues[owner]
        if self.queue_pattern is None:
            raise UserError(f"metadata.owner: {owner!r} has no Kueue LocalQueue; add it to kueue.queues in the launch config, "
                            "or set kueue.queue_pattern")
        name = self.queue_pattern.replace("{owner}", re.sub(r"[^a-z0-9-]", "-", owner.lower()))
        if not _DNS_LABEL.fullmatch(name):
            raise UserError(f"metadata.owner: {owner!r} gives {name!r} through kueue.queue_pattern, not a LocalQueue name "
                            f"({_QUEUE_NAME}); add the owner to kueue.queues")
        return name


class LaunchConfig(_Strict):
    namespace: str
    service_account: str
    artifacts: str
    allow_unpinned_images: bool = False
    images: Images
    network_policy: NetworkPolicySettings
    job: JobSettings = JobSettings()
    kueue: KueueSettings | None = None
    resource_classes: dict[str, ResourceClass]

    @model_validator(mode="after")
    def _images_pinned(self) -> "LaunchConfig":
        unpinned = [] if self.allow_unpinned_images else self.images.unpinned()
        if unpinned:
            raise ValueError(f"{'; '.join(unpinned)}; expected name[:tag]@sha256:<64 hex digits>, or allow_unpinned_images: true")
        return self

    @model_validator(mode="after")
    def _larger_is_a_larger_class(self) -> "LaunchConfig":
        for name, resource in self.resource_classes.items():
            if resource.larger is None:
                continue
            larger = self.resource_classes.get(resource.larger)
            if larger is None:
                raise ValueError(f"resource_classes.{name}.larger: {resource.larger!r} is not a resource class here")
            if larger.memory_limit_bytes <= resource.memory_limit_bytes:
                raise ValueError(f"resource_classes.{name}.larger: {resource.larger} has no more memory than {name} "
                                 f"({larger.limits['memory']} against {resource.limits['memory']})")
        return self

    def resource_class(self, name: str) -> ResourceClass:
        try:
            return self.resource_classes[name]
        except KeyError:
            raise UserError(
                f"compute_resource: {name!r} is not a configured resource class; known: {', '.join(self.resource_classes)}"
            ) from None


def load_config(path: str | Path | None = None) -> LaunchConfig:
    chosen = path or os.environ.get("RAILYARD_LAUNCH_CONFIG")
    path = Path(chosen) if chosen else DEFAULT_CONFIG
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"cannot read launch config {path}: {exc}") from exc
    try:
        return LaunchConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [": ".join(filter(None, [".".join(str(p) for p in e["loc"]), e["msg"].removeprefix("Value error, ")]))
                    for e in exc.errors()]
        raise SpecError([f"{path}: {p}" for p in problems]) from None
