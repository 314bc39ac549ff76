"""PyTorch modules as a `state_dict` plus the class path and its constructor arguments.

A module must expose `config`, a JSON-serializable dict that its constructor
accepts as keyword arguments; loading calls `cls(**config)` and then
`load_state_dict`. The class must be an `nn.Module` from `torch.nn` or from the
workflow's module. Tensors are loaded with `weights_only=True`, so loading
runs no pickled code.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any

from railyard.errors import ModelFormatError
from railyard.model.formats.importing import class_path, import_allowed

NAMES = ("torch",)


def accepts(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def save(obj: Any, files: dict[str, bytes], prefix: str) -> dict:
    import torch

    config = getattr(obj, "config", None)
    try:
        config_json = json.loads(json.dumps(config))
    except (TypeError, ValueError):
        config_json = None
    if not isinstance(config_json, dict):
        raise ModelFormatError(
            f"{class_path(obj)}: a torch model must expose `config`, a JSON-serializable dict of its "
            "constructor arguments, so that Railyard can rebuild it"
        )
    buffer = io.BytesIO()
    state = {k: v.detach().cpu() for k, v in obj.state_dict().items()}
    torch.save(state, buffer)
    name = f"{prefix}state_dict.pt"
    files[name] = buffer.getvalue()
    return {"format": "torch", "class": class_path(obj), "config": config_json, "file": name, "torch_version": torch.__version__}


def load(node: dict, read, workflow_module: str) -> Any:
    import torch

    cls = import_allowed(node["class"], ("torch.nn", workflow_module), torch.nn.Module)
    module = cls(**node["config"])
    state = torch.load(io.BytesIO(read(node["file"])), map_location="cpu", weights_only=True)
    module.load_state_dict(state)
    module.eval()
    return module
