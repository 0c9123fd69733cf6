"""Phone calls over a provider's media-stream websocket (Twilio by default; Telnyx, Plivo).

A provider is data plus three small functions: the XML its voice webhook answers with (it
connects the call's audio to our websocket), how its stream's first message names the call,
and which messages its protocol allows. Audio conversion (8 kHz µ-law in and out, resampled
to the pipeline's 16 kHz) is pipecat's serializer for that provider; :class:`GuardedSerializer`
wraps it so that anything outside the protocol closes the socket with a reason instead of
being silently dropped. BATON_VOICE_TELEPHONY picks the provider.

The caller's number reaches the websocket as a stream parameter written by our webhook; when
a Twilio auth token is configured it is signed (HMAC) so a client that connects to the
websocket directly cannot claim somebody else's number.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from pipecat.frames.frames import Frame
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.serializers.plivo import PlivoFrameSerializer
from pipecat.serializers.telnyx import TelnyxFrameSerializer
from pipecat.serializers.twilio import TwilioFrameSerializer

# Close codes (RFC 6455): unsupported data, invalid payload, policy violation.
UNSUPPORTED = 1003
INVALID = 1007
POLICY = 1008
MAX_MESSAGE_CHARS = 64_000
MAX_PARAM_CHARS = 200


class ProtocolViolation(Exception):
    """A message outside the provider's protocol; the socket is closed with ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        # A close frame's reason is at most 123 bytes.
        self.reason = reason.encode("utf-8")[:120].decode("utf-8", "ignore")


@dataclass
class StreamStart:
    """What a stream's start message says about the call."""

    stream_id: str
    call_id: str
    caller: str | None
    params: dict[str, str] = field(default_factory=dict)
    media: dict[str, Any] = field(default_factory=dict)


def sign_caller(secret: str, caller: str) -> str:
    """The HMAC that vouches for a caller number written into the stream parameters."""
    return hmac.new(secret.encode(), f"caller:{caller}".encode(), hashlib.sha256).hexdigest()


def check_caller_signature(secret: str | None, caller: str, signature: str | None) -> None:
    """Raise ProtocolViolation unless the signature matches (no secret: nothing to check)."""
    if not secret:
        return
    if not signature or not hmac.compare_digest(sign_caller(secret, caller), signature):
        raise ProtocolViolation(POLICY, "stream parameters are not signed by this server")


def parse_json(data: str | bytes) -> dict[str, Any]:
    """One protocol message as a JSON object, or ProtocolViolation."""
    if isinstance(data, bytes):
        raise ProtocolViolation(UNSUPPORTED, "binary frames are not part of the protocol")
    if len(data) > MAX_MESSAGE_CHARS:
        raise ProtocolViolation(POLICY, f"message of {len(data)} characters is too large")
    try:
        message = json.loads(data)
    except ValueError:
        raise ProtocolViolation(INVALID, "message is not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("event"), str):
        raise ProtocolViolation(INVALID, "message must be a JSON object with an 'event'")
    return message


def _text(value: Any, name: str, max_chars: int = MAX_PARAM_CHARS) -> str:
    if not isinstance(value, str) or not value or len(value) > max_chars:
        raise ProtocolViolation(INVALID, f"'{name}' must be a non-empty string")
    return value


def _payload(message: dict[str, Any], stream_key: str, stream_id: str) -> None:
    media = message.get("media")
    if not isinstance(media, dict):
        raise ProtocolViolation(INVALID, "media message without a 'media' object")
    payload = media.get("payload")
    if not isinstance(payload, str):
        raise ProtocolViolation(INVALID, "media message without a base64 'payload'")
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolViolation(INVALID, "media payload is not base64") from None
    sent_stream = message.get(stream_key)
    if sent_stream is not None and sent_stream != stream_id:
        raise ProtocolViolation(POLICY, "media for another stream")


class Provider:
    """A telephony provider's media-stream protocol (subclasses fill in the details)."""

    name = ""
    events: frozenset[str] = frozenset()
    end_events: frozenset[str] = frozenset({"stop"})
    stream_key = "streamSid"

    def webhook_xml(self, stream_url: str, params: dict[str, str]) -> str:
        """The XML the voice webhook answers with: connect the call's audio to ``stream_url``."""
        raise NotImplementedError

    def parse_start(self, message: dict[str, Any]) -> StreamStart | None:
        """The call named by a start message; None for messages that may precede it."""
        raise NotImplementedError

    def serializer(self, start: StreamStart) -> FrameSerializer:
        """pipecat's serializer for this provider (no REST hang-up: we have no credentials)."""
        raise NotImplementedError

    def check(self, message: dict[str, Any], start: StreamStart) -> None:
        """Raise ProtocolViolation for a message the protocol does not allow mid-stream."""
        event = message["event"]
        if event not in self.events:
            raise ProtocolViolation(POLICY, f"unknown event {event[:40]!r}")
        if event == "start":
            raise ProtocolViolation(POLICY, "a stream starts only once")
        if event == "media":
            _payload(message, self.stream_key, start.stream_id)


class TwilioProvider(Provider):
    """Twilio Media Streams (``<Connect><Stream>``), 8 kHz µ-law both ways."""

    name = "twilio"
    events = frozenset({"connected", "start", "media", "mark", "dtmf", "stop"})

    def webhook_xml(self, stream_url: str, params: dict[str, str]) -> str:
        """TwiML connecting a bidirectional media stream, with our parameters."""
        from twilio.twiml.voice_response import Connect, VoiceResponse

        response = VoiceResponse()
        connect = Connect()
        stream = connect.stream(url=stream_url)
        for key, value in params.items():
            stream.parameter(name=key, value=value)
        response.append(connect)
        return str(response)

    def parse_start(self, message: dict[str, Any]) -> StreamStart | None:
        """Twilio sends ``connected`` and then ``start`` with the call and our parameters."""
        if message["event"] == "connected":
            return None
        if message["event"] != "start":
            raise ProtocolViolation(POLICY, f"expected 'start', got {message['event'][:40]!r}")
        start = message.get("start")
        if not isinstance(start, dict):
            raise ProtocolViolation(INVALID, "start message without a 'start' object")
        params = start.get("customParameters") or {}
        if not isinstance(params, dict) or not all(
            isinstance(v, str) and len(v) <= MAX_PARAM_CHARS for v in params.values()
        ):
            raise ProtocolViolation(INVALID, "'customParameters' must map names to strings")
        media = start.get("mediaFormat") or {}
        if isinstance(media, dict) and media.get("encoding", "audio/x-mulaw") != "audio/x-mulaw":
            raise ProtocolViolation(UNSUPPORTED, "only audio/x-mulaw streams are supported")
        return StreamStart(
            stream_id=_text(start.get("streamSid") or message.get("streamSid"), "streamSid"),
            call_id=_text(start.get("callSid"), "callSid"),
            caller=params.get("caller") or None,
            params=dict(params),
            media=dict(media) if isinstance(media, dict) else {},
        )

    def serializer(self, start: StreamStart) -> FrameSerializer:
        """pipecat's Twilio serializer: µ-law 8 kHz <-> PCM at the pipeline's rates, 'clear'."""
        return TwilioFrameSerializer(
            stream_sid=start.stream_id,
            call_sid=start.call_id,
            params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
        )


class TelnyxProvider(Provider):
    """Telnyx media streaming: TeXML (TwiML-compatible) webhook, PCMU streams."""

    name = "telnyx"
    events = frozenset({"connected", "start", "media", "mark", "dtmf", "stop", "error"})
    stream_key = "stream_id"

    def webhook_xml(self, stream_url: str, params: dict[str, str]) -> str:
        """TeXML connecting a bidirectional stream; parameters travel as <Parameter>s."""
        inner = "".join(
            f"<Parameter name={quoteattr(k)} value={quoteattr(v)}/>" for k, v in params.items()
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><Response><Connect>'
            f'<Stream url={quoteattr(stream_url)} bidirectionalMode="rtp">{inner}</Stream>'
            "</Connect></Response>"
        )

    def parse_start(self, message: dict[str, Any]) -> StreamStart | None:
        """Telnyx's start message names the call control id and the caller."""
        if message["event"] == "connected":
            return None
        if message["event"] != "start":
            raise ProtocolViolation(POLICY, f"expected 'start', got {message['event'][:40]!r}")
        start = message.get("start")
        if not isinstance(start, dict):
            raise ProtocolViolation(INVALID, "start message without a 'start' object")
        params = start.get("custom_parameters") or {}
        if not isinstance(params, dict):
            raise ProtocolViolation(INVALID, "'custom_parameters' must be an object")
        media = start.get("media_format") or {}
        return StreamStart(
            stream_id=_text(message.get("stream_id"), "stream_id"),
            call_id=_text(start.get("call_control_id"), "call_control_id"),
            caller=str(params.get("caller") or start.get("from") or "") or None,
            params={k: str(v) for k, v in params.items()},
            media=dict(media) if isinstance(media, dict) else {},
        )

    def serializer(self, start: StreamStart) -> FrameSerializer:
        """pipecat's Telnyx serializer with the stream's encoding."""
        encoding = str(start.media.get("encoding") or "PCMU")
        return TelnyxFrameSerializer(
            stream_id=start.stream_id,
            outbound_encoding=encoding,
            inbound_encoding=encoding,
            call_control_id=start.call_id,
            params=TelnyxFrameSerializer.InputParams(auto_hang_up=False),
        )


class PlivoProvider(Provider):
    """Plivo audio streams: ``<Stream bidirectional>`` XML, µ-law 8 kHz."""

    name = "plivo"
    events = frozenset({"start", "media", "dtmf", "stop", "playedStream", "clearedAudio"})
    stream_key = "streamId"

    def webhook_xml(self, stream_url: str, params: dict[str, str]) -> str:
        """Plivo XML; our parameters ride in ``extraHeaders``."""
        headers = ",".join(f"{k}={v}" for k, v in params.items())
        return (
            '<?xml version="1.0" encoding="UTF-8"?><Response>'
            '<Stream bidirectional="true" keepCallAlive="true" '
            f'contentType="audio/x-mulaw;rate=8000" extraHeaders={quoteattr(headers)}>'
            f"{escape(stream_url)}</Stream></Response>"
        )

    def parse_start(self, message: dict[str, Any]) -> StreamStart | None:
        """Plivo's start message names the stream and call; extra headers carry ours."""
        if message["event"] != "start":
            raise ProtocolViolation(POLICY, f"expected 'start', got {message['event'][:40]!r}")
        start = message.get("start")
        if not isinstance(start, dict):
            raise ProtocolViolation(INVALID, "start message without a 'start' object")
        raw = message.get("extra_headers") or start.get("extra_headers") or ""
        params: dict[str, str] = {}
        if isinstance(raw, str):
            params = dict(p.split("=", 1) for p in raw.split(",") if "=" in p)
        elif isinstance(raw, dict):
            params = {str(k): str(v) for k, v in raw.items()}
        return StreamStart(
            stream_id=_text(start.get("streamId"), "streamId"),
            call_id=_text(start.get("callId"), "callId"),
            caller=params.get("caller") or None,
            params=params,
        )

    def serializer(self, start: StreamStart) -> FrameSerializer:
        """pipecat's Plivo serializer."""
        return PlivoFrameSerializer(
            stream_id=start.stream_id,
            call_id=start.call_id,
            params=PlivoFrameSerializer.InputParams(auto_hang_up=False),
        )


PROVIDERS: dict[str, Provider] = {
    p.name: p for p in (TwilioProvider(), TelnyxProvider(), PlivoProvider())
}


def provider_named(name: str) -> Provider:
    """The provider for BATON_VOICE_TELEPHONY; ValueError naming the known ones."""
    provider = PROVIDERS.get((name or "").strip().lower())
    if provider is None:
        raise ValueError(f"unknown telephony provider {name!r}; known: {', '.join(PROVIDERS)}")
    return provider


OnViolation = Callable[[ProtocolViolation], Awaitable[None]]
OnEnd = Callable[[], Awaitable[None]]


class GuardedSerializer(FrameSerializer):
    """A provider's serializer that enforces the protocol on every incoming message.

    A violation calls ``on_violation`` (which closes the socket with the reason) and yields
    no frame; a stop message calls ``on_end`` (the caller hung up).
    """

    def __init__(
        self,
        inner: FrameSerializer,
        provider: Provider,
        start: StreamStart,
        on_violation: OnViolation,
        on_end: OnEnd,
    ) -> None:
        super().__init__()
        self.inner = inner
        self.provider = provider
        self.start = start
        self.on_violation = on_violation
        self.on_end = on_end
        self.violation: ProtocolViolation | None = None

    async def setup(self, setup: FrameProcessorSetup) -> None:  # type: ignore[override]
        """Set up the provider's serializer."""
        await self.inner.setup(setup)

    async def serialize(self, frame: Frame) -> str | bytes | None:
        """Outgoing frames are the provider serializer's business."""
        return await self.inner.serialize(frame)

    async def deserialize(self, data: str | bytes) -> Frame | None:
        """Check the message, then let the provider's serializer turn it into a frame."""
        if self.violation is not None:
            return None
        try:
            message = parse_json(data)
            self.provider.check(message, self.start)
        except ProtocolViolation as exc:
            self.violation = exc
            await self.on_violation(exc)
            return None
        if message["event"] in self.provider.end_events:
            await self.on_end()
            return None
        return await self.inner.deserialize(data)
