"""The inventory of local weights: where each one is and whether its runtime opens it.

``models.weights`` only locates files; opening them needs the runtimes (CTranslate2,
onnxruntime, the embedded llama.cpp server), which is this module's job.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.embedded_server import probe_gguf
from models.weights import (
    BASE_PACKAGES,
    PIPECAT_PACKAGE,
    PIPER_PACKAGE,
    SMOLLM2_PACKAGE,
    TINY_EN_PACKAGE,
    piper_voice,
    silero_vad,
    smart_turn,
    smollm2_gguf,
    whisper_dir,
)


@dataclass(frozen=True)
class _Role:
    role: str
    model: str
    packages: tuple[str, ...]
    locate: Callable[[Path], Path]
    load: Callable[[Path], None]


def _load_ctranslate2(path: Path) -> None:
    import ctranslate2

    ctranslate2.models.Whisper(str(path), device="cpu", compute_type="int8")


def _load_onnx(path: Path) -> None:
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.log_severity_level = 3
    onnxruntime.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _load_gguf(path: Path) -> None:
    probe_gguf(path)


def _roles() -> list[_Role]:
    return [
        _Role(
            "stt (whisper tiny.en)",
            "whisper tiny.en (CTranslate2)",
            (TINY_EN_PACKAGE,),
            lambda d: whisper_dir("tiny.en", d),
            _load_ctranslate2,
        ),
        _Role(
            "stt (whisper base)",
            "whisper base (CTranslate2)",
            BASE_PACKAGES,
            lambda d: whisper_dir("base", d),
            _load_ctranslate2,
        ),
        _Role(
            "tts",
            "piper en_US-joe-medium",
            (PIPER_PACKAGE,),
            lambda _d: piper_voice()[0],
            _load_onnx,
        ),
        _Role("vad", "silero vad", (PIPECAT_PACKAGE,), lambda _d: silero_vad(), _load_onnx),
        _Role(
            "end of turn",
            "smart turn v3.2 (cpu)",
            (PIPECAT_PACKAGE,),
            lambda _d: smart_turn(),
            _load_onnx,
        ),
        _Role(
            "llm (embedded)",
            "SmolLM2-135M-Instruct Q4_1",
            (SMOLLM2_PACKAGE,),
            lambda _d: smollm2_gguf(),
            _load_gguf,
        ),
    ]


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
    return path.stat().st_size


def _source(packages: tuple[str, ...]) -> str:
    parts = []
    for pkg in packages:
        try:
            parts.append(f"{pkg}=={importlib.metadata.version(pkg)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{pkg} (not installed)")
    return " + ".join(parts)


def describe_all(data_dir: Path, *, load: bool = False) -> list[dict[str, Any]]:
    """One row per local weight: role, model, source, path, size and whether it loads.

    Without ``load`` a weight "loads" when its files are present and pass their integrity
    checks; with ``load`` each model is really opened by its runtime (takes a few seconds).
    """
    rows: list[dict[str, Any]] = []
    for role in _roles():
        row: dict[str, Any] = {
            "role": role.role,
            "model": role.model,
            "source": _source(role.packages),
            "path": None,
            "size_bytes": None,
            "loads": False,
            "error": None,
        }
        try:
            path = role.locate(Path(data_dir))
            row["path"] = str(path)
            row["size_bytes"] = _size(path)
            if load:
                role.load(path)
            row["loads"] = True
        except Exception as exc:  # each row reports its own failure instead of aborting all
            row["error"] = str(exc) or exc.__class__.__name__
        rows.append(row)
    return rows
