"""Understanding benchmark: the labelled command corpus as text, clean speech and phone speech.

Every utterance of ``bench/corpora/understanding`` is parsed by ``core.understanding.parser``
three ways and scored by ``bench/understanding_score.py``:

* ``text``: the sentence as written;
* ``clean``: rendered in several voices (Piper joe-medium at different length/noise scales,
  espeak-ng accents, speeds and pitches) to 16 kHz, then transcribed;
* ``phone``: the same audio through the phone path: resampled to 8 kHz µ-law and back to 16 kHz
  with pipecat's converters, as the Twilio serializer does, then transcribed.

Transcription is the project's own: the Whisper service a call gets from
``VoiceServices.new_stt`` (same model folder, beam size, no-speech cut-off and biasing),
fed the whole utterance as one VAD segment. Rendered audio is cached under ``bench/.cache``.

Per tier and split (tune / heldout, or the development split dev) it reports intent accuracy,
exact command match, the wrong side-effecting action rate, parse latency p50/p95 (parse only,
STT excluded) and STT p50.
``--compare-stt`` instead scores tiny.en and base, each with and without biasing, on phone audio.
Failures are listed for the tune and dev splits only: the held-out part is never looked at.
``--split dev`` reads ``dev.jsonl`` alone, ``--split dev2`` to ``dev9`` the later dev batches
``dev2.jsonl`` to ``dev9.jsonl`` (and ``--split tune`` ``tune.jsonl`` alone), so
tuning runs never load the held-out file;
``--half 1`` / ``--half 2`` keeps the first or second half of the chosen split in file order.

    .venv/bin/python bench/understanding.py [--tiers text,clean,phone] [--voices 5]
        [--limit N] [--split all|tune|heldout|dev|dev2..dev9] [--half 1|2] [--whisper tiny.en]
        [--bias prompt] [--compare-stt] [--show-failures]

Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import numpy as np  # noqa: E402
import soxr  # noqa: E402
from loguru import logger  # noqa: E402
from pipecat.audio.utils import create_stream_resampler, pcm_to_ulaw, ulaw_to_pcm  # noqa: E402
from pipecat.frames.frames import TranscriptionFrame  # noqa: E402

from bench.understanding_score import (  # noqa: E402
    CORPUS_FILES,
    DEV_FILE,
    Summary,
    Utterance,
    Verdict,
    load_contacts,
    load_corpus,
    score,
    summarise,
)
from core.config import Settings  # noqa: E402
from core.store.db import make_engine  # noqa: E402
from core.understanding.command import Command, ParseContext  # noqa: E402
from voice.config import VoiceSettings  # noqa: E402
from voice.services import VoiceServices, load_voice_services  # noqa: E402
from voice.stt_bias import BIAS_MODES, WhisperBias, whisper_bias  # noqa: E402

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo("America/New_York"))
STT_RATE = 16000
PHONE_RATE = 8000
CACHE = REPO / "bench" / ".cache" / "understanding"
TIERS = ("text", "clean", "phone")
SPLITS = ("tune", "heldout", "dev")
# The corpus files each --split choice reads ("all" is the corpus proper, without dev).
SPLIT_FILES = {
    "all": CORPUS_FILES,
    "tune": ("tune.jsonl",),
    "heldout": ("heldout.jsonl",),
    "dev": (DEV_FILE,),
    "dev2": ("dev2.jsonl",),
    "dev3": ("dev3.jsonl",),
    "dev4": ("dev4.jsonl",),
    "dev5": ("dev5.jsonl",),
    "dev6": ("dev6.jsonl",),
    "dev7": ("dev7.jsonl",),
    "dev8": ("dev8.jsonl",),
    "dev9": ("dev9.jsonl",),
}
# A --split choice whose lines carry another split label: the later dev batches.
SPLIT_LABELS = {
    "dev2": "dev",
    "dev3": "dev",
    "dev4": "dev",
    "dev5": "dev",
    "dev6": "dev",
    "dev7": "dev",
    "dev8": "dev",
    "dev9": "dev",
}
# Splits whose failures may be listed: never the held-out one.
INSPECTABLE = ("tune", "dev")
# Silence around an utterance, as a VAD segment carries some before and after the speech.
PAD_SECONDS = 0.25


@dataclass(frozen=True)
class Voice:
    """One synthetic caller: a Piper setting or an espeak-ng voice."""

    name: str
    engine: str  # "piper" or "espeak"
    length_scale: float = 1.0
    noise_scale: float = 0.667
    espeak_voice: str = "en-us"
    speed_wpm: int = 160
    pitch: int = 50


# In the order --voices N takes them: the first five mix both engines.
VOICES = (
    Voice("piper-joe", "piper"),
    Voice("espeak-us-f", "espeak", espeak_voice="en-us+f3", speed_wpm=165, pitch=60),
    Voice("piper-joe-fast", "piper", length_scale=0.85, noise_scale=0.8),
    Voice("espeak-gb", "espeak", espeak_voice="en-gb", speed_wpm=150, pitch=40),
    Voice("piper-joe-slow", "piper", length_scale=1.2, noise_scale=0.45),
    Voice("espeak-scotland", "espeak", espeak_voice="en-gb-scotland", speed_wpm=175, pitch=45),
    Voice("espeak-caribbean", "espeak", espeak_voice="en-029", speed_wpm=140, pitch=55),
)


def speakable(text: str) -> bool:
    """Whether a line has anything to say out loud (empty and '...' lines are text-only)."""
    return any(ch.isalpha() for ch in text)


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), np.int16)


def _write_wav(path: Path, pcm: np.ndarray, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.astype(np.int16).tobytes())
    tmp.replace(path)


class Renderer:
    """Speech for a text in a voice, 16 kHz int16, rendered once and cached."""

    def __init__(self, services: VoiceServices) -> None:
        self._piper = services.piper

    def render(self, voice: Voice, text: str) -> np.ndarray:
        """The utterance at 16 kHz, with a little silence either side."""
        key = hashlib.sha1(f"{voice}|{text}".encode()).hexdigest()[:20]
        path = CACHE / voice.name / f"{key}.wav"
        if not path.is_file():
            pcm = self._piper_pcm(voice, text) if voice.engine == "piper" else _espeak(voice, text)
            pad = np.zeros(int(PAD_SECONDS * STT_RATE), np.int16)
            _write_wav(path, np.concatenate([pad, pcm, pad]), STT_RATE)
        return _read_wav(path)

    def _piper_pcm(self, voice: Voice, text: str) -> np.ndarray:
        from piper import SynthesisConfig

        config = SynthesisConfig(
            length_scale=voice.length_scale, noise_scale=voice.noise_scale, noise_w_scale=0.8
        )
        chunks = [
            np.frombuffer(c.audio_int16_bytes, np.int16)
            for c in self._piper.synthesize(text, config)
        ]
        audio = np.concatenate(chunks).astype(np.float32) / 32768.0
        resampled = soxr.resample(audio, self._piper.config.sample_rate, STT_RATE)
        return np.clip(resampled * 32767, -32768, 32767).astype(np.int16)


def _espeak(voice: Voice, text: str) -> np.ndarray:
    """espeak-ng speech converted by sox to 16 kHz mono 16-bit."""
    with tempfile.TemporaryDirectory() as tmp:
        raw, out = Path(tmp) / "espeak.wav", Path(tmp) / "16k.wav"
        subprocess.run(
            [
                "espeak-ng",
                "-v",
                voice.espeak_voice,
                "-s",
                str(voice.speed_wpm),
                "-p",
                str(voice.pitch),
                "-w",
                str(raw),
                text,
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["sox", str(raw), "-r", str(STT_RATE), "-c", "1", "-b", "16", str(out)],
            check=True,
            capture_output=True,
        )
        return _read_wav(out)


class TranscriptCache:
    """What one Whisper model with one biasing heard in each rendered utterance, kept on disk.

    Always written; read back only when asked (``--reuse-transcripts``), to re-score a changed
    parser without transcribing again. STT latency is then measured on fresh transcriptions only.
    """

    def __init__(self, whisper: str, bias: WhisperBias, *, reuse: bool) -> None:
        digest = hashlib.sha1(repr(bias).encode()).hexdigest()[:12]
        self._path = CACHE / "transcripts" / f"{whisper}-{digest}.json"
        self._reuse = reuse
        self._heard: dict[str, str] = (
            json.loads(self._path.read_text()) if self._path.is_file() else {}
        )

    @staticmethod
    def key(voice: Voice, tier: str, text: str) -> str:
        """The entry of one utterance in one voice and tier."""
        return hashlib.sha1(f"{voice}|{tier}|{text}".encode()).hexdigest()[:20]

    def get(self, key: str) -> str | None:
        """A transcript heard before, when reuse is on."""
        return self._heard.get(key) if self._reuse else None

    def put(self, key: str, heard: str) -> None:
        """Record a fresh transcript."""
        self._heard[key] = heard

    def save(self) -> None:
        """Write the transcripts (atomically)."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._heard))
        tmp.replace(self._path)


async def phone_round_trip(pcm: np.ndarray) -> np.ndarray:
    """16 kHz audio as a phone caller's: 8 kHz µ-law over the wire, back to 16 kHz on arrival."""
    ulaw = await pcm_to_ulaw(pcm.tobytes(), STT_RATE, PHONE_RATE, create_stream_resampler())
    back = await ulaw_to_pcm(ulaw, PHONE_RATE, STT_RATE, create_stream_resampler())
    return np.frombuffer(back, np.int16)


async def transcribe(stt: Any, pcm: np.ndarray) -> tuple[str, float]:
    """What the call's STT service hears in one segment, and how long it took (ms)."""
    start = time.perf_counter()
    texts = [
        frame.text
        async for frame in stt.run_stt(pcm.tobytes())
        if isinstance(frame, TranscriptionFrame)
    ]
    return " ".join(t.strip() for t in texts).strip(), (time.perf_counter() - start) * 1000


@dataclass
class TierResult:
    """Verdicts and latencies of one tier (all splits)."""

    verdicts: dict[str, list[Verdict]] = field(default_factory=lambda: {s: [] for s in SPLITS})
    parse_ms: list[float] = field(default_factory=list)
    stt_ms: list[float] = field(default_factory=list)
    heard: dict[str, list[tuple[str, str, Command]]] = field(default_factory=dict)


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _timed_parse(
    parse: Callable[[str, ParseContext], Command], text: str, ctx: ParseContext
) -> tuple[Command, float]:
    start = time.perf_counter()
    command = parse(text, ctx)
    return command, (time.perf_counter() - start) * 1000


def run_text(
    parse: Callable[[str, ParseContext], Command], corpus: Sequence[Utterance], ctx: ParseContext
) -> TierResult:
    """Parse every sentence as written."""
    result = TierResult()
    for utt in corpus:
        command, ms = _timed_parse(parse, utt.text, ctx)
        result.parse_ms.append(ms)
        result.verdicts[utt.split].append(score(utt, command))
        result.heard.setdefault(utt.id, []).append(("text", utt.text, command))
    return result


async def run_speech(
    parse: Callable[[str, ParseContext], Command],
    corpus: Sequence[Utterance],
    ctx: ParseContext,
    services: VoiceServices,
    renderer: Renderer,
    voices: Sequence[Voice],
    tiers: Sequence[str],
    *,
    reuse_transcripts: bool = False,
) -> dict[str, TierResult]:
    """Render, (phone round trip), transcribe with the project's STT, parse and score."""
    stt = services.new_stt(ctx.contact_names)
    bias = whisper_bias(services.voice_settings.whisper_bias, ctx.contact_names)
    vs = services.voice_settings
    stt_name = f"{vs.whisper_model}-{vs.whisper_window}"
    if vs.whisper_beam_size != 1:  # greedy transcripts of earlier runs keep their old names
        stt_name += f"-beam{vs.whisper_beam_size}"
    transcripts = TranscriptCache(stt_name, bias, reuse=reuse_transcripts)
    results = {tier: TierResult() for tier in tiers}
    spoken = [u for u in corpus if speakable(u.text)]
    for n, utt in enumerate(spoken, 1):
        for voice in voices:
            clean = renderer.render(voice, utt.text)
            for tier in tiers:
                res = results[tier]
                key = transcripts.key(voice, tier, utt.text)
                heard_before = transcripts.get(key)
                if heard_before is None:
                    audio = clean if tier == "clean" else await phone_round_trip(clean)
                    heard, stt_ms = await transcribe(stt, audio)
                    transcripts.put(key, heard)
                    res.stt_ms.append(stt_ms)
                else:
                    heard = heard_before
                command, parse_ms = _timed_parse(parse, heard, ctx)
                res.parse_ms.append(parse_ms)
                res.verdicts[utt.split].append(score(utt, command))
                res.heard.setdefault(utt.id, []).append((voice.name, heard, command))
        transcripts.save()
        if n % 25 == 0:
            print(f"  ... {n}/{len(spoken)} utterances", file=sys.stderr, flush=True)
    return results


def _summary_row(tier: str, split: str, s: Summary, res: TierResult) -> str:
    return (
        f"{tier:<6} {split:<8} n={s.n:<5} intent={s.intent_accuracy:6.1%} "
        f"exact={s.exact_match:6.1%} wrong_side_effect={s.wrong_side_effect_rate:6.2%} "
        f"parse_p50={_percentile(res.parse_ms, 50):6.2f}ms "
        f"parse_p95={_percentile(res.parse_ms, 95):6.2f}ms "
        f"stt_p50={_percentile(res.stt_ms, 50):6.0f}ms"
    )


def report(results: dict[str, TierResult]) -> dict[str, Any]:
    """Print per tier and split, and return the JSON figures."""
    figures: dict[str, Any] = {}
    parse_all: list[float] = []
    for tier, res in results.items():
        parse_all.extend(res.parse_ms)
        everything = res.verdicts["tune"] + res.verdicts["heldout"]
        for split, verdicts in (("all", everything), *res.verdicts.items()):
            s = summarise(verdicts)
            if s.n == 0:
                continue
            print(_summary_row(tier, split, s, res))
            prefix = tier if split == "all" else f"{tier}_{split}"
            figures[f"{prefix}_intent_accuracy"] = round(s.intent_accuracy, 4)
            figures[f"{prefix}_exact_match"] = round(s.exact_match, 4)
            figures[f"{prefix}_wrong_side_effect_rate"] = round(s.wrong_side_effect_rate, 4)
            figures[f"{prefix}_n"] = s.n
        if res.stt_ms:
            figures[f"{tier}_stt_p50_ms"] = round(_percentile(res.stt_ms, 50), 1)
        figures[f"{tier}_understanding_p95_ms"] = round(_percentile(res.parse_ms, 95), 3)
    figures["understanding_p50_ms"] = round(_percentile(parse_all, 50), 3)
    figures["understanding_p95_ms"] = round(_percentile(parse_all, 95), 3)
    return figures


def show_failures(corpus: Sequence[Utterance], results: dict[str, TierResult]) -> None:
    """Print what went wrong on the tune and dev splits (never the held-out part)."""
    by_id = {u.id: u for u in corpus if u.split in INSPECTABLE}
    for tier, res in results.items():
        for verdict in (v for split in INSPECTABLE for v in res.verdicts[split]):
            if verdict.exact:
                continue
            utt = by_id[verdict.utterance_id]
            want = utt.slots.model_dump(exclude_unset=True)
            print(f"[{tier}] {utt.id} {utt.text!r} want {utt.intent} {want}")
            for source, heard, command in res.heard.get(utt.id, []):
                if score(utt, command).exact:
                    continue
                got = command.slots.model_dump(exclude_defaults=True)
                print(f"    {source}: heard {heard!r} -> {command.intent} {got}")
                break


def subset(
    corpus: Sequence[Utterance], split: str, limit: int | None, half: int | None = None
) -> list[Utterance]:
    """The utterances of a split (or one half of it, in file order), thinned evenly to
    ``limit`` (every intent keeps its share)."""
    label = SPLIT_LABELS.get(split, split)
    chosen = [u for u in corpus if split == "all" or u.split == label]
    if half is not None:
        middle = (len(chosen) + 1) // 2
        chosen = chosen[:middle] if half == 1 else chosen[middle:]
    if limit is None or limit >= len(chosen):
        return chosen
    step = len(chosen) / limit
    return [chosen[int(i * step)] for i in range(limit)]


def _load_parse() -> Callable[[str, ParseContext], Command]:
    from core.understanding.parser import parse

    return parse


def _services(whisper: str, bias: str, data_dir: Path) -> VoiceServices:
    voice_settings = VoiceSettings(whisper_model=whisper, whisper_bias=bias)
    engine = make_engine(f"sqlite:///{data_dir / 'bench.db'}")
    return load_voice_services(Settings(data_dir=data_dir), voice_settings, engine)


async def compare_stt(
    parse: Callable[[str, ParseContext], Command],
    corpus: Sequence[Utterance],
    ctx: ParseContext,
    voices: Sequence[Voice],
    data_dir: Path,
    *,
    reuse_transcripts: bool = False,
) -> dict[str, Any]:
    """tiny.en and base, each without and with each biasing mode, on phone audio."""
    figures: dict[str, Any] = {}
    renderer: Renderer | None = None
    for whisper in ("tiny.en", "base"):
        for bias in BIAS_MODES:
            services = _services(whisper, bias, data_dir)
            renderer = renderer or Renderer(services)
            speech = await run_speech(
                parse,
                corpus,
                ctx,
                services,
                renderer,
                voices,
                ["phone"],
                reuse_transcripts=reuse_transcripts,
            )
            res = speech["phone"]
            s = summarise([v for split in res.verdicts.values() for v in split])
            key = f"{whisper.replace('.', '_')}_{bias}"
            print(
                f"phone {whisper:<8} bias={bias:<9} n={s.n} exact={s.exact_match:6.1%} "
                f"intent={s.intent_accuracy:6.1%} wrong_side_effect={s.wrong_side_effect_rate:.2%}"
                f" stt_p50={_percentile(res.stt_ms, 50):5.0f}ms"
                f" stt_p95={_percentile(res.stt_ms, 95):5.0f}ms",
                flush=True,
            )
            figures[f"{key}_phone_exact_match"] = round(s.exact_match, 4)
            figures[f"{key}_phone_intent_accuracy"] = round(s.intent_accuracy, 4)
            figures[f"{key}_stt_p50_ms"] = round(_percentile(res.stt_ms, 50), 1)
            figures[f"{key}_stt_p95_ms"] = round(_percentile(res.stt_ms, 95), 1)
    return figures


def main() -> None:
    """Run the benchmark from the command line."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tiers", default="text,clean,phone", help="comma list of text,clean,phone")
    ap.add_argument("--voices", type=int, default=5, help=f"first N of {len(VOICES)} voices")
    ap.add_argument("--limit", type=int, default=None, help="at most N utterances, evenly spread")
    ap.add_argument("--split", choices=tuple(SPLIT_FILES), default="all")
    ap.add_argument("--half", type=int, choices=(1, 2), default=None, help="first or second half")
    ap.add_argument("--whisper", default=VoiceSettings().whisper_model, choices=("tiny.en", "base"))
    ap.add_argument("--bias", default=VoiceSettings().whisper_bias, choices=BIAS_MODES)
    ap.add_argument("--compare-stt", action="store_true", help="tiny.en/base x biasing, phone")
    ap.add_argument("--show-failures", action="store_true", help="list tune/dev failures")
    ap.add_argument(
        "--reuse-transcripts",
        action="store_true",
        help="re-score earlier transcriptions (STT latency only over new ones)",
    )
    ap.add_argument("--data-dir", type=Path, default=Settings().data_dir)
    args = ap.parse_args()
    tiers = [t for t in args.tiers.split(",") if t]
    if unknown := set(tiers) - set(TIERS):
        ap.error(f"unknown tiers: {', '.join(sorted(unknown))}")
    if not 1 <= args.voices <= len(VOICES):
        ap.error(f"--voices must be 1..{len(VOICES)}")
    logger.remove()
    logger.add(sys.stderr, level="WARNING")

    parse = _load_parse()
    corpus = subset(load_corpus(files=SPLIT_FILES[args.split]), args.split, args.limit, args.half)
    ctx = ParseContext(now=NOW, contact_names=load_contacts())
    voices = VOICES[: args.voices]
    print(
        f"{len(corpus)} utterances, voices: {', '.join(v.name for v in voices)}, "
        f"whisper {args.whisper}, bias {args.bias}",
        flush=True,
    )
    figures: dict[str, Any] = {
        "utterances": len(corpus),
        "voices": len(voices),
        "whisper_model": args.whisper,
        "whisper_window": VoiceSettings().whisper_window,
        "whisper_beam_size": VoiceSettings().whisper_beam_size,
        "bias": args.bias,
    }
    if args.compare_stt:
        spoken = [u for u in corpus if speakable(u.text)]
        figures.update(
            asyncio.run(
                compare_stt(
                    parse,
                    spoken,
                    ctx,
                    voices,
                    args.data_dir,
                    reuse_transcripts=args.reuse_transcripts,
                )
            )
        )
        print(json.dumps(figures))
        return
    results: dict[str, TierResult] = {}
    if "text" in tiers:
        results["text"] = run_text(parse, corpus, ctx)
    speech_tiers = [t for t in tiers if t != "text"]
    if speech_tiers:
        services = _services(args.whisper, args.bias, args.data_dir)
        results.update(
            asyncio.run(
                run_speech(
                    parse,
                    corpus,
                    ctx,
                    services,
                    Renderer(services),
                    voices,
                    speech_tiers,
                    reuse_transcripts=args.reuse_transcripts,
                )
            )
        )
    figures.update(report(results))
    if args.show_failures:
        show_failures(corpus, results)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
