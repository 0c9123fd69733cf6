"""Whisper biasing: command words and the caller's contacts go into what Whisper is primed with."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import create_engine

from core.config import Settings
from core.contacts.service import ContactDraft, create_contact
from core.runs.service import RunStore
from voice.config import VoiceSettings
from voice.services import load_voice_services
from voice.stt_bias import COMMAND_HOTWORDS, COMMAND_PROMPT, MAX_NAMES, whisper_bias


def test_prompt_names_the_callers_contacts_once_each() -> None:
    bias = whisper_bias("prompt", ["Siobhan Kelly", "Dmitri Ivanov", "Siobhan  Kelly", " "])
    assert bias.hotwords is None
    assert bias.initial_prompt is not None
    assert bias.initial_prompt.startswith(COMMAND_PROMPT)
    assert bias.initial_prompt.endswith("Contacts: Siobhan Kelly, Dmitri Ivanov.")


def test_hotwords_carry_the_vocabulary_and_names() -> None:
    bias = whisper_bias("hotwords", ["Zoe Chen"])
    assert bias.initial_prompt is None
    assert bias.hotwords == f"{COMMAND_HOTWORDS} Zoe Chen"


def test_a_huge_address_book_is_cut_to_fit_whisper_s_prompt() -> None:
    names = [f"Person {i}" for i in range(500)]
    prompt = whisper_bias("prompt", names).initial_prompt or ""
    assert f"Person {MAX_NAMES - 1}," in prompt or prompt.endswith(f"Person {MAX_NAMES - 1}.")
    assert f"Person {MAX_NAMES}" not in prompt


def test_off_primes_nothing() -> None:
    bias = whisper_bias("off", ["Zoe Chen"])
    assert bias.initial_prompt is None and bias.hotwords is None


def test_an_unknown_mode_stops_the_voice_services_from_starting(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path)
    engine = create_engine(f"sqlite:///{tmp_path / 'unused.db'}")
    with pytest.raises(ValueError, match="BATON_WHISPER_BIAS='loud'"):
        load_voice_services(settings, VoiceSettings(whisper_bias="loud"), engine)


@pytest.mark.slow  # loads the speech models
def test_a_call_is_biased_toward_the_callers_own_contacts(engine, voice_models) -> None:
    with engine.begin() as conn:
        create_contact(conn, "acme", "alice", ContactDraft(name="Siobhan Kelly"))
        create_contact(conn, "acme", "alice", ContactDraft(name="Dmitri Ivanov"))
        create_contact(conn, "acme", "bob", ContactDraft(name="Zoe Chen"))
        create_contact(conn, "other", "alice", ContactDraft(name="Mateo Garcia"))
    settings, voice_settings = Settings(), VoiceSettings(whisper_bias="prompt")
    services = replace(
        voice_models,
        settings=settings,
        voice_settings=voice_settings,
        store=RunStore(engine, settings),
    )

    names = services.caller_contact_names("acme", "alice")

    assert sorted(names) == ["Dmitri Ivanov", "Siobhan Kelly"]
    prompt = whisper_bias(voice_settings.whisper_bias, names).initial_prompt or ""
    assert "Siobhan Kelly" in prompt and "Zoe Chen" not in prompt
