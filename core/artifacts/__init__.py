"""Artifacts: results too large or too structured for the channel, kept as blobs with metadata."""

from core.artifacts.blobs import BlobStore, FileBlobStore, blob_store_for
from core.artifacts.service import (
    create_artifact,
    get_artifact,
    list_artifacts,
    read_artifact_data,
)

__all__ = [
    "BlobStore",
    "FileBlobStore",
    "blob_store_for",
    "create_artifact",
    "get_artifact",
    "list_artifacts",
    "read_artifact_data",
]
