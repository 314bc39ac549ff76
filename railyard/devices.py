"""Which accelerator a run trains on: CUDA when the spec asks for a GPU and one is visible.

A GPU run on a machine without a visible CUDA device stops before loading any
data, unless the spec sets `allow_cpu_fallback`, in which case it trains on
the CPU and says so in its log and result.json. Devices are found from the
NVIDIA driver (/proc/driver/nvidia/gpus), honouring CUDA_VISIBLE_DEVICES,
without importing any ML library.
"""

from __future__ import annotations

import os
from pathlib import Path

from railyard.errors import UserError

NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


def cuda_device_count() -> int:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return 0
    found = len(list(NVIDIA_GPUS.iterdir())) if NVIDIA_GPUS.is_dir() else 0
    if visible:
        found = min(found, len([d for d in visible.split(",") if d.strip()]))
    return found


def resolve_device(compute_resource: str, allow_cpu_fallback: bool) -> tuple[str, str | None]:
    """("cuda" or "cpu", a warning or None); UserError when a GPU is required and absent."""
    if compute_resource != "GPU":
        return "cpu", None
    if cuda_device_count() > 0:
        return "cuda", None
    if allow_cpu_fallback:
        return "cpu", "compute_resource is GPU but no CUDA device is visible; training on the CPU (allow_cpu_fallback)"
    raise UserError(
        "compute_resource: GPU was requested but no CUDA device is visible on this machine; "
        "run on a GPU node, or set \"allow_cpu_fallback\": true to train on the CPU instead"
    )
