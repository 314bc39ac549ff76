"""A run's identity: what must be the same for a checkpoint to be resumed from.

The trainer (its binary's sha256; run from a checkout, the commit), the spec as
far as it shapes the model (not where outputs go nor how often checkpoints are
written, but whether samples are drawn exactly, `checkpoints.exact`; the compute
resource by the device it trains on), the data's fingerprint
(every file's size and modification time) and the number of workers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

from railyard.spec import TrainingSpec

NOT_MODEL_SHAPING = {"output_path", "checkpoints", "compute_resource", "allow_cpu_fallback"}


@dataclass(frozen=True)
class RunIdentity:
    trainer: str
    spec: str
    data: str
    workers: int

    @classmethod
    def of(cls, build: dict, spec: TrainingSpec, device: str, data_fingerprint: list[dict] | None, workers: int) -> "RunIdentity":
        trainer = build.get("binary_sha256") or f"commit {build.get('git_commit')}{' (dirty)' if build.get('git_dirty') else ''}"
        shaping = {**spec.model_dump(mode="json", exclude=NOT_MODEL_SHAPING), "device": device, "exact": spec.checkpoints.exact}
        return cls(trainer=trainer, spec=_digest(shaping), data=_digest(data_fingerprint), workers=workers)

    def as_dict(self) -> dict:
        return asdict(self)

    def differences(self, other: dict) -> list[str]:
        """The fields of a recorded identity that differ from this one, e.g. ['data', 'workers']."""
        return [name for name, value in self.as_dict().items() if other.get(name) != value]


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
