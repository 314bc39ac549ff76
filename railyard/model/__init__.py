"""Trained models as content-addressed artifacts: save, identify, load back.

An artifact is one deterministic zip file: `MANIFEST.json` (format, features,
label, categories, library versions, provenance) and the model in its
library's own format. Its id is `sha256.` + the base32 (no padding) of the
SHA-256 of the artifact bytes, so the id names exactly one model.
"""

from railyard.model.artifact import is_model_id, model_id
from railyard.model.loaded import Model, load_model
from railyard.model.save import build_artifact

__all__ = ["Model", "build_artifact", "is_model_id", "load_model", "model_id"]
