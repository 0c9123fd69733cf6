"""The understanding suite: the labelled corpus's tune split through the command parser,
scored as bench/understanding_score.py scores it. The held-out split is never read."""

from __future__ import annotations

import importlib.util
import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

from core.evals.report import CaseResult
from core.evals.suite import Header, SuiteError
from core.understanding.command import ParseContext
from core.understanding.parser import parse

REPO = Path(__file__).resolve().parents[2]
TUNE = "tune.jsonl"
# The corpus's reference time (see its README).
CORPUS_NOW = datetime(2026, 11, 30, 9, 0, tzinfo=ZoneInfo("America/New_York"))


def _scorer() -> ModuleType:
    """bench/understanding_score.py, loaded from the repository (bench is not installed)."""
    path = REPO / "bench" / "understanding_score.py"
    spec = importlib.util.spec_from_file_location("bench.understanding_score", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise SuiteError(f"the understanding scorer {path} is missing")
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        # Registered before it runs: its dataclasses look their module up by name.
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return module


def run_understanding(header: Header, quick: bool) -> list[CaseResult]:
    """One case per utterance of the tune split (the first ``quick_cases`` with --quick)."""
    if header.split != "tune":
        raise SuiteError(f"suite {header.suite}: only the tune split may be evaluated")
    if header.corpus is None:
        raise SuiteError(f"suite {header.suite}: the header names no corpus folder")
    folder = REPO / header.corpus
    if not (folder / TUNE).is_file():
        raise SuiteError(f"suite {header.suite}: no {TUNE} in {folder}")
    scorer = _scorer()
    load_corpus, load_contacts, score = scorer.load_corpus, scorer.load_contacts, scorer.score
    utterances = [u for u in load_corpus(folder, (TUNE,)) if u.split == "tune"]
    if quick:
        utterances = utterances[: header.quick_cases]
    ctx = ParseContext(now=CORPUS_NOW, contact_names=load_contacts(folder))
    results: list[CaseResult] = []
    for utt in utterances:
        command = parse(utt.text, ctx)
        verdict = score(utt, command)
        reasons: list[str] = []
        if not verdict.intent_ok:
            reasons.append(f"{utt.text!r}: intent {command.intent} instead of {utt.intent}")
        if verdict.wrong_slots:
            reasons.append(f"{utt.text!r}: wrong {', '.join(verdict.wrong_slots)}")
        if verdict.wrong_side_effect:
            reasons.append("a risky action the person did not ask for")
        results.append(CaseResult(id=utt.id, passed=verdict.exact, reasons=reasons))
    return results
