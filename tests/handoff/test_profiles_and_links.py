"""Response profiles as data, and the signed links that notifications carry."""

from __future__ import annotations

import os
import stat
import time

import pytest

from core.config import Settings
from core.errors import InvalidInput
from core.profiles import CHANNELS, fit_to_profile, profile_for
from handoff.config import HandoffSettings
from handoff.signing import LINK, SESSION, BadToken, Signer, server_secret


def test_every_channel_has_a_complete_profile():
    keys = {
        "length", "allowed_modalities", "structure", "artifact_policy", "progress_policy",
        "approval_policy", "fallback", "max_words",
    }  # fmt: skip
    assert set(CHANNELS) == {"voice", "web", "mobile", "api", "cli"}
    for channel in CHANNELS:
        profile = profile_for(channel)
        assert keys <= set(profile), channel
        assert profile["channel"] == channel
    voice = profile_for("voice")
    assert voice["allowed_modalities"] == ["speech"]
    assert (voice["max_sentences"], voice["max_words"]) == (2, 40)
    assert voice["approval_policy"] == "ask_one_clear_question"
    # A copy: a caller changing its profile does not change the next caller's.
    voice["max_words"] = 999
    assert profile_for("voice")["max_words"] == 40
    assert profile_for("browser")["channel"] == profile_for("phone")["channel"] == "voice"


def test_unknown_channel_is_a_clear_error():
    with pytest.raises(InvalidInput, match=r"unknown channel 'fax'.*voice"):
        profile_for("fax")


def test_voice_answers_are_cut_and_the_rest_becomes_an_artifact():
    voice = profile_for("voice")
    long = "I found three flights. The cheapest leaves at nine. " + "It has details. " * 30
    fitted = fit_to_profile(voice, long)
    assert fitted.inline == "I found three flights. The cheapest leaves at nine."
    assert fitted.overflow
    short = fit_to_profile(voice, "Done. Your note is saved.")
    assert (short.inline, short.overflow) == ("Done. Your note is saved.", False)
    table = "| city | price |\n|---|---|\n| Oslo | 120 |"
    assert fit_to_profile(voice, table).overflow  # speech cannot carry a table
    assert not fit_to_profile(profile_for("web"), table).overflow
    words = fit_to_profile(voice, " ".join(["word"] * 60) + ".")
    assert len(words.inline.split()) == 40 and words.overflow


def test_links_expire_and_cannot_be_changed():
    signer = Signer(b"k" * 32)
    token = signer.issue(LINK, "acme", "ann", 60, runs=["run_1"], extra={"focus": "art_1"})
    claims = signer.verify(token, LINK)
    assert (claims.tenant_id, claims.user_id, claims.runs) == ("acme", "ann", ("run_1",))
    assert claims.allows_run("run_1") and not claims.allows_run("run_2")
    assert claims.extra["focus"] == "art_1"
    body, mac = token.split(".")
    tampered = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac
    with pytest.raises(BadToken, match="signature"):
        signer.verify(tampered, LINK)
    with pytest.raises(BadToken, match="signature"):
        Signer(b"o" * 32).verify(token, LINK)
    with pytest.raises(BadToken, match="cannot be used here"):
        signer.verify(token, SESSION)
    with pytest.raises(BadToken, match="expired"):
        signer.verify(token, LINK, now=time.time() + 61)
    with pytest.raises(BadToken, match="malformed"):
        signer.verify("not-a-token", LINK)


def test_server_secret_is_created_once_and_private(tmp_path):
    settings = Settings(data_dir=tmp_path)
    first = server_secret(settings, HandoffSettings())
    assert server_secret(settings, HandoffSettings()) == first and len(first) >= 32
    mode = stat.S_IMODE(os.stat(tmp_path / "handoff.key").st_mode)
    assert mode == 0o600
    configured = HandoffSettings(handoff_secret="configured-secret!")
    assert server_secret(settings, configured) == b"configured-secret!"
