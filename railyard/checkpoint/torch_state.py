"""A torch training loop's state as one file: modules', optimizers' and schedulers' state dicts, generators'
states, and the global random states (torch, numpy, Python), so that a loop resumed from it goes on exactly
as it would have. Only tensors, numbers and strings go in, so it is read back with `weights_only`: a file
planted among a run's outputs cannot run code. Imported only by workflows that use torch."""

from __future__ import annotations

import io
import random

import numpy as np
import torch


def torch_state(**objects) -> bytes:
    """Everything `objects` hold (each a module, optimizer or scheduler: its state_dict; a torch.Generator: its state)
    and the global random states, as bytes."""
    state = {
        "objects": {name: obj.get_state() if isinstance(obj, torch.Generator) else obj.state_dict() for name, obj in objects.items()},
        "random": {"torch": torch.get_rng_state(), "numpy": _numpy_state(), "python": random.getstate()},
    }
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def restore_torch_state(data: bytes, **objects) -> None:
    """Put back what `torch_state` saved into the same `objects` (by name), and the global random states."""
    state = torch.load(io.BytesIO(data), weights_only=True)
    for name, obj in objects.items():
        saved = state["objects"][name]
        if isinstance(obj, torch.Generator):
            obj.set_state(saved)
        else:
            obj.load_state_dict(saved)
    torch.set_rng_state(state["random"]["torch"])
    kind, keys, position, has_gauss, gauss = state["random"]["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    random.setstate(state["random"]["python"])


def _numpy_state() -> tuple:
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    return kind, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(gauss)
