"""Spoken approval answers: synthesised speech -> Baton's Whisper settings -> answer classifier.

Each answer of the corpus (bench/corpora/approvals/: ``dev.tsv`` is tuned on, ``heldout.tsv``
never is) is rendered in five voices (Piper joe-medium at three length/noise scales,
espeak-ng en-us and en-gb) and three conditions: clean 16 kHz, phone (band-limited 8 kHz
µ-law) and phone with pink noise at 20-25 dB SNR (sox). Every clip goes through the STT
settings a call uses (tiny.en with its beam size, the pipeline's no-speech cut-off, the
call's command prompt and contacts as biasing) and
:func:`voice.answers.read_answer`. Rendered audio and transcripts are cached in
bench/.cache/approvals/ (gitignored): a classifier change is re-measured without transcribing.

    .venv/bin/python -m bench.approvals [--split dev|heldout|all] [--voices N] [--limit N]
        [--conditions clean,phone,noisy] [--bias call|none|question|hotwords] [--show-errors]

Prints accuracy per split, condition and kind, the confusion matrix and the development
answers' false yeses, then one JSON line. A yes is doubted as a call doubts it: when Whisper
was unsure of it, or when decoding the clip again without biasing does not hear a yes too
(:func:`voice.answers.doubted`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from piper import PiperVoice

from core.config import Settings
from voice.answers import Reading, doubted, read_answer
from voice.config import VoiceSettings
from voice.services import NO_SPEECH_THRESHOLD
from voice.stt_bias import WhisperBias, whisper_bias
from voice.whisper_decode import ShortTurnWhisper, WhisperWindow

HERE = Path(__file__).parent
CORPUS = HERE / "corpora" / "approvals"
CACHE = HERE / ".cache" / "approvals"
RATE = 16000
PHONE_RATE = 8000
LABELS = ("yes", "no", "unclear")
CONDITIONS = ("clean", "phone", "noisy")
# The question the answers reply to, as the bridge says it, and the caller's address book.
QUESTION = "Should I send email to Alice?"
CONTACTS = ("Alice Smith", "Bob Jones", "Carol White")
ANSWER_HOTWORDS = "yes no yeah nope sure okay cancel don't go ahead"
# call: the call's command prompt and contacts, what a call's answers are decoded with;
# none: no biasing; question: the pending question as the prompt; hotwords: the answer words
# as hotwords. The last two are the alternatives measured against what a call does.
BIAS_CHOICES = ("call", "none", "question", "hotwords")


def bias_for(mode: str) -> WhisperBias:
    """The Whisper biasing the benchmark's ``--bias`` mode stands for."""
    if mode == "call":
        return whisper_bias("prompt", CONTACTS)
    if mode == "question":
        return WhisperBias(initial_prompt=f"{QUESTION} Please say yes or no.")
    if mode == "hotwords":
        return WhisperBias(hotwords=ANSWER_HOTWORDS)
    return WhisperBias()


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker."""

    name: str
    engine: str  # "piper" or "espeak"
    length: float = 1.0
    noise: float = 0.667
    espeak_voice: str = ""
    rate: int = 160
    pitch: int = 50


VOICES = (
    Voice("piper-joe", "piper"),
    Voice("piper-joe-fast", "piper", length=0.85, noise=0.3),
    Voice("piper-joe-slow", "piper", length=1.2, noise=0.9),
    Voice("espeak-en-us", "espeak", espeak_voice="en-us", rate=165, pitch=45),
    Voice("espeak-en-gb", "espeak", espeak_voice="en-gb", rate=150, pitch=60),
)


@dataclass(frozen=True)
class Item:
    """One answer of the corpus."""

    split: str
    label: str
    kind: str
    text: str


def load_corpus(split: str) -> list[Item]:
    """The answers of ``dev``, ``heldout`` or ``all``."""
    names = ("dev", "heldout") if split == "all" else (split,)
    items = []
    for name in names:
        for line in (CORPUS / f"{name}.tsv").read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            label, kind, text = line.split("\t")
            items.append(Item(name, label, kind, text))
    return items


def _key(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:20]


class Renderer:
    """Synthesises and degrades clips, caching every result on disk."""

    def __init__(self) -> None:
        CACHE.mkdir(parents=True, exist_ok=True)
        self._piper: PiperVoice | None = None

    def _piper_voice(self) -> PiperVoice:
        if self._piper is None:
            from models.weights import piper_voice

            onnx, config = piper_voice()
            self._piper = PiperVoice.load(onnx, config_path=config)
        return self._piper

    def cached(self, voice: Voice, text: str) -> bool:
        """Whether this utterance was rendered already."""
        return (CACHE / f"clean-{_key(voice, text)}.wav").exists()

    def clean(self, voice: Voice, text: str) -> Path:
        """The utterance at 16 kHz with a little silence around it."""
        path = CACHE / f"clean-{_key(voice, text)}.wav"
        if path.exists():
            return path
        if voice.engine == "piper":
            from piper import SynthesisConfig

            piper = self._piper_voice()
            config = SynthesisConfig(
                length_scale=voice.length, noise_scale=voice.noise, noise_w_scale=0.8
            )
            chunks = [
                np.frombuffer(c.audio_int16_bytes, np.int16) for c in piper.synthesize(text, config)
            ]
            audio = np.concatenate(chunks).astype(np.float32) / 32768.0
            audio = soxr.resample(audio, piper.config.sample_rate, RATE)
        else:
            with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
                subprocess.run(
                    ["espeak-ng", "-v", voice.espeak_voice, "-s", str(voice.rate),
                     "-p", str(voice.pitch), "-w", tmp.name, text],
                    check=True,
                )  # fmt: skip
                audio, rate = sf.read(tmp.name, dtype="float32")
            audio = soxr.resample(audio, rate, RATE)
        pad = np.zeros(int(0.3 * RATE), np.float32)
        sf.write(path, np.concatenate([pad, audio.astype(np.float32), pad]), RATE)
        return path

    def phone(self, clean: Path, snr_db: float | None) -> Path:
        """The clip over a phone line: telephone band, 8 kHz µ-law, optional pink noise."""
        path = CACHE / f"phone-{_key(clean.name, snr_db)}.wav"
        if path.exists():
            return path
        audio, _ = sf.read(clean, dtype="float32")
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "in.wav"
            sf.write(src, audio, RATE)
            if snr_db is not None:
                seconds = len(audio) / RATE
                noise = Path(tmp) / "noise.wav"
                subprocess.run(
                    ["sox", "-n", "-r", str(RATE), "-c", "1", "-b", "16", str(noise),
                     "synth", f"{seconds:.3f}", "pinknoise"],
                    check=True,
                )  # fmt: skip
                speech_rms = float(np.sqrt(np.mean(audio[np.abs(audio) > 1e-4] ** 2)))
                noise_audio, _ = sf.read(noise, dtype="float32")
                noise_rms = float(np.sqrt(np.mean(noise_audio**2))) or 1.0
                gain = speech_rms / noise_rms / (10 ** (snr_db / 20))
                mixed = Path(tmp) / "mixed.wav"
                subprocess.run(
                    ["sox", "-m", str(src), "-v", f"{gain:.6f}", str(noise), str(mixed)],
                    check=True,
                )
                src = mixed
            ulaw = Path(tmp) / "line.wav"
            subprocess.run(
                ["sox", str(src), "-r", str(PHONE_RATE), "-e", "u-law", "-b", "8", str(ulaw),
                 "sinc", "300-3400"],
                check=True,
            )  # fmt: skip
            line, rate = sf.read(ulaw, dtype="float32")
        # The serializer hands the pipeline 16 kHz PCM: resample the line audio back up.
        sf.write(path, soxr.resample(line, rate, RATE).astype(np.float32), RATE)
        return path


def load_whisper(
    settings: Settings, voice_settings: VoiceSettings, threads: int
) -> ShortTurnWhisper:
    """tiny.en (BATON_WHISPER_MODEL) as the calls load it."""
    import os

    from faster_whisper import WhisperModel

    from models.weights import whisper_dir

    folder = whisper_dir(voice_settings.whisper_model, settings.data_dir)
    threads = threads or os.cpu_count() or 1
    model = WhisperModel(str(folder), device="cpu", compute_type="int8", cpu_threads=threads)
    return ShortTurnWhisper(
        model, WhisperWindow(voice_settings.whisper_window), voice_settings.whisper_beam_size
    )


def _heard_path(clip: Path, bias: str, whisper: ShortTurnWhisper) -> Path:
    wording = bias_for(bias)
    decoding = (
        f"{VoiceSettings().whisper_model}|{wording.initial_prompt}|{wording.hotwords}"
        f"|beam{whisper.beam_size}|scored"
    )
    return CACHE / f"heard-{_key(clip.name, decoding)}.json"


@dataclass(frozen=True)
class HeardClip:
    """What a call's STT service passes on for a clip, and how sure Whisper was of it."""

    text: str
    logprob: float | None
    stt_ms: float | None
    """The decode's time, None when it came from the cache."""


def transcribe(whisper: ShortTurnWhisper, path: Path, bias: str) -> HeardClip:
    """The clip's transcript as a call hears it (cached)."""
    cached = _heard_path(path, bias, whisper)
    if cached.exists():
        stored = json.loads(cached.read_text())
        return HeardClip(stored["text"], stored["logprob"], None)
    started = time.perf_counter()
    text, logprob = _transcribe(whisper, path, bias)
    elapsed = (time.perf_counter() - started) * 1000
    cached.write_text(json.dumps({"text": text, "logprob": logprob}))
    return HeardClip(text, logprob, elapsed)


def _transcribe(whisper: ShortTurnWhisper, path: Path, bias: str) -> tuple[str, float | None]:
    audio, _ = sf.read(path, dtype="float32")
    pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16).astype(np.float32) / 32768.0
    wording = bias_for(bias)
    segments, _ = whisper.transcribe(
        pcm, language="en", hotwords=wording.hotwords, initial_prompt=wording.initial_prompt
    )
    kept = [s for s in segments if s.no_speech_prob < NO_SPEECH_THRESHOLD and s.text.strip()]
    text = " ".join(s.text.strip() for s in kept)
    return text, min((s.avg_logprob for s in kept), default=None)


def _as_a_call_reads(whisper: ShortTurnWhisper, clip: Path, bias: str, heard: HeardClip) -> Reading:
    """The answer a call takes from ``heard``: a yes heard with biasing must also be heard
    without it, and a yes Whisper was unsure of is doubted (see :func:`voice.answers.doubted`)."""
    reading = read_answer(heard.text)
    disputed = False
    if reading.answer == "yes" and bias_for(bias) != WhisperBias():
        disputed = read_answer(transcribe(whisper, clip, "none").text).answer != "yes"
    return doubted(reading, heard.logprob, disputed)


Row = dict[str, str]


def _accuracy(rows: list[Row]) -> float:
    return sum(r["label"] == r["got"] for r in rows) / len(rows) if rows else 0.0


def _report(
    items: list[Item],
    voices: tuple[Voice, ...],
    conditions: list[str],
    results: list[Row],
    args: argparse.Namespace,
) -> None:
    """Accuracy per split, condition, kind and voice; confusion matrices; false yeses."""
    print(f"{len(items)} answers, {len(voices)} voices, {len(results)} clips, bias={args.bias}")
    for split in sorted({r["split"] for r in results}):
        for condition in conditions:
            rows = [r for r in results if r["split"] == split and r["condition"] == condition]
            fy = sum(r["got"] == "yes" and r["label"] != "yes" for r in rows)
            print(
                f"  {split:8} {condition:6} {_accuracy(rows):6.1%}  n={len(rows)}  false_yes={fy}"
            )
    print("by kind and condition:")
    for kind in sorted({r["kind"] for r in results}):
        cells = []
        for condition in conditions:
            rows = [r for r in results if r["kind"] == kind and r["condition"] == condition]
            cells.append(f"{condition} {_accuracy(rows):6.1%} (n={len(rows)})")
        print(f"  {kind:10} " + "  ".join(cells))
    print("by voice:")
    for voice in voices:
        rows = [r for r in results if r["voice"] == voice.name]
        print(f"  {voice.name:15} {_accuracy(rows):6.1%}  n={len(rows)}")
    for condition in ["all", *conditions]:
        rows = [r for r in results if condition in ("all", r["condition"])]
        confusion = Counter((r["label"], r["got"]) for r in rows)
        print(f"confusion, {condition} (rows: said, columns: classified):")
        print("            " + "".join(f"{g:>9}" for g in LABELS))
        for label in LABELS:
            print(f"  {label:9} " + "".join(f"{confusion[(label, g)]:9d}" for g in LABELS))
    for r in results:
        # Held-out answers are counted above, never shown: nothing is tuned on them.
        if r["got"] == "yes" and r["label"] != "yes" and r["split"] == "dev":
            print(
                f"  FALSE YES: {r['text']!r} heard {r['heard']!r} ({r['voice']}, {r['condition']})"
            )
    if args.show_errors:
        for r in results:
            if r["label"] != r["got"] and r["split"] == "dev":
                where = f"({r['voice']}, {r['condition']})"
                said = f"{r['label']:>7} -> {r['got']:7} {r['text']!r}"
                print(f"  {said} heard {r['heard']!r} (logprob {r['logprob']}) {where}")


def main() -> None:
    """Render, transcribe, classify; print the figures and one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="all", choices=("dev", "heldout", "all"))
    parser.add_argument("--voices", type=int, default=len(VOICES))
    parser.add_argument(
        "--per-answer", type=int, default=1, help="voices each answer is rendered in per condition"
    )
    parser.add_argument("--limit", type=int, default=0, help="answers per split (0: all)")
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--bias", default="call", choices=BIAS_CHOICES)
    parser.add_argument("--threads", type=int, default=0, help="Whisper threads (0: all cores)")
    parser.add_argument("--show-errors", action="store_true", help="dev errors only")
    parser.add_argument(
        "--cached-only", action="store_true", help="score only clips already transcribed"
    )
    args = parser.parse_args()

    items = load_corpus(args.split)
    if args.limit:
        rng = random.Random(7)
        by_split: dict[str, list[Item]] = defaultdict(list)
        for item in items:
            by_split[item.split].append(item)
        items = [
            i for group in by_split.values() for i in rng.sample(group, min(args.limit, len(group)))
        ]
    voices = VOICES[: args.voices]
    conditions = [c for c in args.conditions.split(",") if c]
    renderer = Renderer()
    whisper = load_whisper(Settings(), VoiceSettings(), args.threads)
    # Noise levels drawn per split, so a split's clips (and their cache) do not depend on the
    # other split being run.
    snr = {split: random.Random(11) for split in ("dev", "heldout")}

    results: list[Row] = []
    stt_ms: list[float] = []
    seen_in_split: Counter[str] = Counter()
    for item in items:
        index = seen_in_split[item.split]
        seen_in_split[item.split] += 1
        for c_index, condition in enumerate(conditions):
            # Voices rotate over answers and conditions: every answer is heard in a different
            # voice per condition, every voice speaks every kind of answer.
            chosen = [voices[(index + c_index + k) % len(voices)] for k in range(args.per_answer)]
            for voice in chosen:
                level = (
                    round(snr[item.split].uniform(20.0, 25.0), 1) if condition == "noisy" else None
                )
                if args.cached_only and not renderer.cached(voice, item.text):
                    continue
                clean = renderer.clean(voice, item.text)
                clip = clean if condition == "clean" else renderer.phone(clean, level)
                if args.cached_only and not _heard_path(clip, args.bias, whisper).exists():
                    continue
                heard = transcribe(whisper, clip, args.bias)
                if heard.stt_ms is not None:
                    stt_ms.append(heard.stt_ms)
                got = _as_a_call_reads(whisper, clip, args.bias, heard).answer
                logprob = "-" if heard.logprob is None else f"{heard.logprob:.2f}"
                results.append(
                    {"split": item.split, "kind": item.kind, "label": item.label, "got": got,
                     "voice": voice.name, "condition": condition, "text": item.text,
                     "heard": heard.text, "logprob": logprob}
                )  # fmt: skip

    def accuracy(rows: list[dict[str, str]]) -> float:
        return sum(r["label"] == r["got"] for r in rows) / len(rows) if rows else 0.0

    _report(items, voices, conditions, results, args)
    false_yes = [r for r in results if r["got"] == "yes" and r["label"] != "yes"]
    summary: dict[str, float | int | str] = {"bench": "approvals", "bias": args.bias}
    for split in sorted({r["split"] for r in results}):
        for condition in conditions:
            rows = [r for r in results if r["split"] == split and r["condition"] == condition]
            summary[f"{split}_{condition}_accuracy_pct"] = round(_accuracy(rows) * 100, 1)
    summary.update(
        answers=len(items),
        clips=len(results),
        false_yes_count=len(false_yes),
        accuracy_pct=round(_accuracy(results) * 100, 1),
        stt_p50_ms=round(float(np.median(stt_ms)), 1) if stt_ms else 0.0,
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
