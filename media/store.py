"""The local-folder media store."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO


class LocalMediaStore:
    """Keeps media files in one folder, addressed by opaque keys."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """Return the file behind `key`; keys never escape the store's folder."""
        if "/" in key or "\\" in key or key.startswith("."):
            raise ValueError(f"bad media key {key!r}")
        return self.root / key

    def new_key(self, suffix: str = "") -> str:
        """Return a fresh key, keeping a short safe file suffix such as `.mp4`."""
        safe = suffix if suffix.isascii() and suffix[1:].isalnum() and len(suffix) <= 8 else ""
        return uuid.uuid4().hex + safe.lower()

    def open(self, key: str) -> BinaryIO:
        """Open a stored file for reading from its start."""
        return self.path(key).open("rb")

    def size(self, key: str) -> int:
        """Return the size in bytes of a stored file."""
        return self.path(key).stat().st_size

    def delete(self, key: str) -> None:
        """Remove a stored file; a missing one is not an error."""
        self.path(key).unlink(missing_ok=True)

    async def write_stream(self, key: str, chunks: AsyncIterator[bytes]) -> tuple[int, str]:
        """Write chunks to `key` through a temporary file; return (size, sha256 hex)."""
        final = self.path(key)
        partial = final.with_name(final.name + ".part")
        digest = hashlib.sha256()
        size = 0
        try:
            with partial.open("wb") as out:
                async for chunk in chunks:
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            partial.replace(final)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return size, digest.hexdigest()
