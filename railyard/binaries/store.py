"""The binary store: published trainer pex files, content-addressed and read-only.

    <root>/<sha256>.pex     mode 0500, written once by an atomic rename
    <root>/incoming/        uploads while they stream in

The store is the service's user's alone (directories 0700): that user reads a
binary to check it and runs it (the local executor, validation); nobody else
needs to, or may read the code and requirements another team published.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from railyard.errors import UserError
from railyard.storage.local import private_dirs

BINARY_MODE = 0o500


class TooLarge(UserError):
    """An upload over the size limit."""


class BinaryStore:
    def __init__(self, root: str | Path):
        self.root = Path(root).absolute()

    def path(self, sha256: str) -> Path:
        return self.root / f"{sha256}.pex"

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    async def receive(self, chunks: AsyncIterator[bytes], max_bytes: int) -> tuple[Path, str, int]:
        """Stream an upload to a temporary file: (its path, sha256, size). The caller keeps or discards it."""
        incoming = self.root / "incoming"
        private_dirs(incoming)
        fd, name = tempfile.mkstemp(dir=incoming, suffix=".part")
        digest, size = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as f:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise TooLarge(f"the binary is larger than the limit of {max_bytes} bytes")
                    digest.update(chunk)
                    f.write(chunk)
                f.flush()
                await asyncio.to_thread(os.fsync, f.fileno())
        except BaseException:
            os.unlink(name)
            raise
        return Path(name), digest.hexdigest(), size

    def keep(self, upload: Path, sha256: str) -> Path:
        """Move a received upload to its content address (a no-op when those bytes are stored already)."""
        target = self.path(sha256)
        if target.exists():
            upload.unlink()
            return target
        os.chmod(upload, BINARY_MODE)
        os.replace(upload, target)
        return target
