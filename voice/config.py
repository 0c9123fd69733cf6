"""Every BATON_* setting of the voice package, read in one place.

Each field maps to an environment variable named ``BATON_<FIELD>``, like the core's settings in
:mod:`core.config`; the README's configuration table lists them under "Voice".
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.config import ProcessSettings


class VoiceSettings(BaseSettings):
    """Phone and browser calls: speech recognition, turn-taking, telephony, call-backs."""

    model_config = SettingsConfigDict(env_prefix="BATON_", extra="ignore")

    whisper_model: str = Field(default="tiny.en", description="Local Whisper size: tiny.en|base")
    whisper_beam_size: int = Field(
        default=5,
        description="Hypotheses Whisper keeps while decoding a turn: 1 (greedy, fastest) to 10",
    )
    whisper_window: str = Field(
        default="speech",
        description="Audio the Whisper encoder sees per turn: speech (sized to the speech, "
        "at least 10 s)|full (Whisper's fixed 30 s)",
    )
    whisper_bias: str = Field(
        default="prompt",
        description="Bias speech recognition toward command words and the caller's contact "
        "names: off|prompt (Whisper initial prompt)|hotwords",
    )
    voice_max_words: int = Field(default=40, description="Spoken answer budget in words")
    voice_max_sentences: int = Field(default=2, description="Spoken answer budget in sentences")
    voice_turn: str = Field(default="silence", description="End of turn: silence|smart_turn")
    voice_vad_stop_secs: float = Field(default=0.2, description="Silence that ends speech (VAD)")
    voice_turn_wait_secs: float = Field(
        default=0.6,
        description="Extra silence before a turn ends (silence strategy), unless the words "
        "so far already read as a whole request",
    )
    # Counted from the end of speech and held while the caller makes a sound, so a caller
    # going on after a pause of up to about this long stays in the turn ("Cancel my meeting
    # tomorrow, ... at noon."); the VAD's own stop takes 0.2 s of it.
    voice_complete_turn_wait_secs: float = Field(
        default=0.35,
        description="Silence after the end of speech that ends a turn whose words already "
        "read as a whole request (held while the caller makes a sound)",
    )
    voice_run_wait_secs: float = Field(
        default=25.0, description="How long a call waits for a run before moving on"
    )
    voice_guest_tenant: str = Field(default="guests", description="Tenant of unknown callers")
    voice_telephony: str = Field(
        default="twilio", description="Phone provider: twilio|telnyx|plivo"
    )
    twilio_auth_token: str | None = Field(
        default=None,
        description="Validates X-Twilio-Signature when set; with the account SID, places "
        "call-backs",
    )
    twilio_account_sid: str | None = Field(
        default=None, description="Twilio account that places call-backs (unset: no call-backs)"
    )
    twilio_from_number: str | None = Field(
        default=None, description="Caller ID of call-backs: a number of the Twilio account"
    )
    twilio_api_url: str = Field(
        default="https://api.twilio.com", description="Twilio's REST API (call-backs)"
    )
    voice_callback_delay_secs: float = Field(
        default=60.0,
        ge=0,
        description="How long after a hang-up a call-back with a yes/no question waits, so the "
        "person can answer the push first",
    )
    voice_callback_ring_secs: int = Field(
        default=25,
        ge=5,
        le=600,
        description="How long a call-back rings before it counts as "
        "unanswered (a push is sent instead)",
    )
    voice_preload: bool = Field(
        default=True, description="Load the speech models when the server starts"
    )
    webrtc_ice_servers: str = Field(
        default="", description="Browser calls: comma list of STUN/TURN URLs (none: host only)"
    )
    webrtc_max_calls_per_user: int = Field(
        default=2, ge=1, description="Browser calls one user may have at once (429 beyond)"
    )
    webrtc_max_calls: int = Field(
        default=8, ge=1, description="Browser calls this server takes at once (429 beyond)"
    )


_PROCESS = ProcessSettings(VoiceSettings)


def get_voice_settings() -> VoiceSettings:
    """The voice settings of this process: those installed with :func:`set_voice_settings`,
    else the environment's, read once."""
    return _PROCESS.get()


def set_voice_settings(settings: VoiceSettings | None) -> None:
    """Install the voice settings of this process (tests build their own); None goes back to
    the environment's."""
    _PROCESS.install(settings)
