"""Where artifact bytes live: a directory under the data dir, behind a small interface.

Keys are content addressed (tenant + SHA-256), so writing the same bytes twice is a no-op and
a retried write can never leave two copies. An S3-compatible store implements the same four
methods with PUT/GET/HEAD/DELETE on the same keys.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from core.config import Settings

_KEY = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-.]+)*$")


class BlobStore(Protocol):
    """Byte storage addressed by key (``tenant/<t>/sha256/<hex>``)."""

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically (readers see all of it or nothing)."""

    def get(self, key: str) -> bytes:
        """The bytes under ``key``; FileNotFoundError when absent."""

    def exists(self, key: str) -> bool:
        """True when ``key`` holds data."""

    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""


def blob_key(tenant_id: str, checksum: str) -> str:
    """The content-addressed key of a tenant's blob."""
    safe_tenant = re.sub(r"[^A-Za-z0-9_\-]", "_", tenant_id)
    return f"tenant/{safe_tenant}/sha256/{checksum[:2]}/{checksum}"


class FileBlobStore:
    """Blobs as files under one root directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key) or ".." in key.split("/"):
            raise ValueError(f"invalid blob key {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        """Write through a temporary file and rename, so a crash never leaves half a blob."""
        path = self._path(key)
        if path.exists() and path.stat().st_size == len(data):
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        """The blob's bytes."""
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        """True when the blob file exists."""
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        """Remove the blob file if it is there."""
        self._path(key).unlink(missing_ok=True)


def blob_store_for(settings: Settings) -> BlobStore:
    """The blob store configured for this process (BATON_BLOB_DIR or <data_dir>/blobs)."""
    return FileBlobStore(settings.blob_dir or settings.data_dir / "blobs")
