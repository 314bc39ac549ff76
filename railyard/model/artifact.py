"""The artifact container: a deterministic zip and its content-derived id."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import zipfile

from railyard.errors import ModelFormatError

MANIFEST = "MANIFEST.json"
ARTIFACT_VERSION = 1
_ID = re.compile(r"^sha256\.[A-Z2-7]{52}$")
_EPOCH = (1980, 1, 1, 0, 0, 0)


def model_id(data: bytes) -> str:
    return "sha256." + base64.b32encode(hashlib.sha256(data).digest()).decode().rstrip("=")


def is_model_id(text: str) -> bool:
    return bool(_ID.match(text))


def pack(manifest: dict, files: dict[str, bytes]) -> bytes:
    """Zip the manifest and files with fixed timestamps and order: same model, same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entries = {MANIFEST: json.dumps(manifest, indent=2).encode(), **files}  # key order is meaningful (torch config)
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name])
    return buffer.getvalue()


class ArtifactReader:
    def __init__(self, data: bytes, source: str):
        self.source = source
        try:
            self.archive = zipfile.ZipFile(io.BytesIO(data))
            self.manifest = json.loads(self.archive.read(MANIFEST))
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:
            raise ModelFormatError(f"{source} is not a Railyard model artifact: {exc}") from exc
        if self.manifest.get("railyard_model") != ARTIFACT_VERSION:
            raise ModelFormatError(f"{source}: unsupported artifact version {self.manifest.get('railyard_model')!r}")

    def read(self, name: str) -> bytes:
        try:
            return self.archive.read(name)
        except KeyError:
            raise ModelFormatError(f"{self.source}: artifact has no {name}") from None
