"""The voice surface's rules without audio: answers, questions, the spoken budget, caller
identity, `baton phones`, the phone webhook and the stream's protocol checks."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from twilio.request_validator import RequestValidator
from typer.testing import CliRunner

from core.config import Settings
from core.errors import Conflict, InvalidInput
from core.runs.service import RunStore
from core.runtime import Runtime, set_runtime
from tests.voice.server import (
    EmailOutbox,
    approval_gate,
    create_voice_app,
    scripted_agent,
    split_settings,
)
from voice.approvals import approval_question, classify_answer, classify_lexical
from voice.composer import SENT_TO_PHONE, compose_reply, fit_spoken, speech_chunks
from voice.config import VoiceSettings
from voice.identity import guest_user_id, link_number, normalise_number, resolve_caller
from voice.session import CallSession


@pytest.mark.parametrize(
    ("said", "answer"),
    [
        ("Yes.", "yes"),
        ("Yeah, go ahead.", "yes"),
        ("Sure, do it", "yes"),
        ("Okay.", "yes"),
        ("No.", "no"),
        ("Nope, don't send it.", "no"),
        ("Cancel that", "no"),
        ("Hmm, I'm not sure.", "unclear"),
        ("Yes. No, wait.", "unclear"),
        ("Maybe later", "unclear"),
        ("", "unclear"),
        ("Actually please send it to Bob instead of Alice tomorrow morning", "unclear"),
    ],
)
def test_answers_are_classified_without_guessing(said: str, answer: str) -> None:
    assert classify_lexical(said) == answer


async def test_the_model_is_asked_only_when_the_words_are_unclear() -> None:
    asked: list[str] = []

    async def model(question: str, text: str) -> str:
        asked.append(text)
        return "yes"

    assert await classify_answer("Send it?", "No.", model) == "no"  # type: ignore[arg-type]
    assert await classify_answer("Send it?", "I reckon so", model) == "yes"  # type: ignore[arg-type]
    assert asked == ["I reckon so"]

    async def broken(question: str, text: str) -> str:
        raise RuntimeError("model down")

    assert await classify_answer("Send it?", "I reckon", broken) == "unclear"  # type: ignore[arg-type]


def test_the_question_names_the_action_and_its_key_argument() -> None:
    assert (
        approval_question({"tool_name": "email.send", "arguments_json": {"to": "Alice"}})
        == "Should I send email to Alice? Please say yes or no."
    )
    question = approval_question(
        {"tool_name": "calendar_book", "arguments_json": {"with": "Bob", "at": "10:00"}}
    )
    assert question.startswith("Should I calendar book with Bob?")


def test_spoken_answers_stay_within_budget_and_long_ones_become_artifacts(engine, tmp_path) -> None:
    settings = Settings(data_dir=tmp_path)
    budget = VoiceSettings(voice_max_words=40, voice_max_sentences=2)
    short, overflow = fit_spoken(budget, "It is sunny. Take sunglasses.")
    assert (short, overflow) == ("It is sunny. Take sunglasses.", False)

    store = RunStore(engine, settings)
    run = store.create_run("acme", "ann", "summarise the report", channel="voice")
    long_text = "# Report\n" + " ".join(f"Finding {n} is that sales grew again." for n in range(30))
    call = CallSession(tenant_id="acme", user_id="ann", channel="phone")
    reply = compose_reply(settings, budget, engine, call, run["run_id"], long_text, title="Report")
    assert reply.sentences[-1] == SENT_TO_PHONE
    assert len(reply.sentences) <= 2 and len(reply.text.split()) <= 40
    assert "#" not in reply.text
    again = compose_reply(settings, budget, engine, call, run["run_id"], long_text, title="Report")
    assert again.artifact_id == reply.artifact_id
    events = store.events("acme", "ann", run["run_id"])
    assert [e["type"] for e in events].count("ArtifactCreated") == 1
    (handoff,) = [e for e in events if e["type"] == "HandoffRequested"]
    assert handoff["data"]["artifact_id"] == reply.artifact_id


def test_short_sentences_are_not_spoken_alone() -> None:
    assert speech_chunks(["Done.", "The email to Alice is on its way."]) == [
        "Done. The email to Alice is on its way."
    ]
    assert speech_chunks(["Paris is the capital of France.", "Nice."]) == [
        "Paris is the capital of France. Nice."
    ]


def test_numbers_link_to_one_user_and_others_are_guests(engine) -> None:
    assert normalise_number("+1 (555) 123-4567") == "+15551234567"
    with pytest.raises(InvalidInput):
        normalise_number("555-1234")
    link_number(engine, "acme", "ann", "+15551234567")
    assert link_number(engine, "acme", "ann", "+15551234567")["user_id"] == "ann"
    with pytest.raises(Conflict):
        link_number(engine, "acme", "bob", "+15551234567")
    ann = resolve_caller(engine, "+15551234567", "guests")
    assert (ann.tenant_id, ann.user_id, ann.guest) == ("acme", "ann", False)
    stranger = resolve_caller(engine, "+15559999999", "guests")
    assert stranger.guest and stranger.tenant_id == "guests"
    assert stranger.user_id == guest_user_id("+15559999999") != guest_user_id("+15558888888")
    hidden = resolve_caller(engine, "anonymous", "guests")
    assert hidden.guest and hidden.number is None


def test_baton_phones_link_maps_a_number_and_rejects_bad_input(engine, tmp_path) -> None:
    from core.cli.main import app

    settings = Settings(data_dir=tmp_path, database_url=engine.url.render_as_string(False))
    set_runtime(Runtime(settings, engine, lambda: approval_gate(EmailOutbox()), scripted_agent))
    try:
        runner = CliRunner()
        ok = runner.invoke(
            app, ["phones", "link", "--tenant", "acme", "--user", "ann", "--number", "+15551234567"]
        )
        assert ok.exit_code == 0, ok.output
        assert "+15551234567 -> acme/ann" in ok.output
        bad = runner.invoke(
            app, ["phones", "link", "--tenant", "acme", "--user", "ann", "--number", "call me"]
        )
        assert bad.exit_code == 1 and "international form" in bad.output
        taken = runner.invoke(
            app, ["phones", "link", "--tenant", "acme", "--user", "bob", "--number", "+15551234567"]
        )
        assert taken.exit_code == 1 and "already linked" in taken.output
        listed = runner.invoke(app, ["phones", "list", "--tenant", "acme", "--json"])
        assert json.loads(listed.output) == [
            {"number": "+15551234567", "tenant_id": "acme", "user_id": "ann"}
        ]
    finally:
        set_runtime(None)


@pytest.fixture
def phone_app(engine, tmp_path):
    def build(**overrides):
        settings, voice_settings = split_settings(
            data_dir=tmp_path,
            database_url=engine.url.render_as_string(False),
            plugins="voice",
            agent="scripted",
            voice_preload=False,
            **overrides,
        )
        set_runtime(Runtime(settings, engine, lambda: approval_gate(EmailOutbox()), scripted_agent))
        return TestClient(create_voice_app(settings, voice_settings))

    yield build
    set_runtime(None)


def test_the_webhook_connects_the_call_to_our_stream(phone_app) -> None:
    with phone_app() as client:
        twiml = client.post("/telephony/twilio/voice", data={"From": "+15551234567"})
        assert twiml.status_code == 200
        assert '<Stream url="ws://testserver/telephony/twilio/stream">' in twiml.text
        assert '<Parameter name="caller" value="+15551234567"' in twiml.text
        assert client.post("/telephony/plivo/voice").status_code == 404
    with phone_app(public_url="https://baton.example.com/") as client:
        twiml = client.post("/telephony/twilio/voice", data={"From": "+15551234567"})
        assert '<Stream url="wss://baton.example.com/telephony/twilio/stream">' in twiml.text


def test_the_webhook_needs_twilio_signature_when_a_token_is_set(phone_app) -> None:
    form = {"From": "+15551234567", "CallSid": "CA123"}
    with phone_app(twilio_auth_token="secret") as client:
        unsigned = client.post("/telephony/twilio/voice", data=form)
        assert unsigned.status_code == 403 and "X-Twilio-Signature" in unsigned.text
        forged = client.post(
            "/telephony/twilio/voice", data=form, headers={"X-Twilio-Signature": "bm9wZQ=="}
        )
        assert forged.status_code == 403
        url = "http://testserver/telephony/twilio/voice"
        signature = RequestValidator("secret").compute_signature(url, form)
        signed = client.post(
            "/telephony/twilio/voice", data=form, headers={"X-Twilio-Signature": signature}
        )
        assert signed.status_code == 200
        assert '<Parameter name="caller_sig"' in signed.text


@pytest.mark.parametrize(
    ("messages", "code", "reason"),
    [
        (["not json"], 1007, "message is not JSON"),
        ([b"\x00\x01"], 1003, "binary frames are not part of the protocol"),
        ([{"event": "media"}], 1008, "expected 'start', got 'media'"),
        ([{"event": "start", "start": {"callSid": "CA1"}}], 1007, "'streamSid' must be"),
    ],
)
def test_a_stream_that_does_not_start_properly_is_closed_with_a_reason(
    phone_app, messages, code, reason
) -> None:
    with phone_app() as client, client.websocket_connect("/telephony/twilio/stream") as ws:
        for message in messages:
            if isinstance(message, bytes):
                ws.send_bytes(message)
            elif isinstance(message, str):
                ws.send_text(message)
            else:
                ws.send_text(json.dumps(message))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == code
        assert reason in closed.value.reason


def test_a_forged_caller_number_is_refused(phone_app) -> None:
    start = {
        "event": "start",
        "start": {
            "streamSid": "MZ1",
            "callSid": "CA1",
            "customParameters": {"caller": "+15551234567", "caller_sig": "forged"},
        },
    }
    with (
        phone_app(twilio_auth_token="secret") as client,
        client.websocket_connect("/telephony/twilio/stream") as ws,
    ):
        ws.send_text(json.dumps({"event": "connected"}))
        ws.send_text(json.dumps(start))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 1008
        assert "not signed" in closed.value.reason


async def test_unclear_words_go_to_the_agents_classification_task() -> None:
    from core.agent.scripted import ScriptedAgent
    from voice.approvals import agent_classifier

    seen = []

    def label(pack):
        seen.append(pack)
        return {"type": "respond", "message": "Yes"}

    model = agent_classifier(ScriptedAgent(label), "acme", "ann", "run_1")
    assert await classify_answer("Should I send it?", "I reckon so", model) == "yes"
    (pack,) = seen
    assert pack.task_type == "classification"
    assert pack.response_profile["labels"] == ["yes", "no", "unclear"]
    assert pack.messages[-1].content == "I reckon so"


@pytest.mark.parametrize(
    ("provider", "start", "caller"),
    [
        (
            "telnyx",
            {
                "event": "start",
                "stream_id": "st-1",
                "start": {
                    "call_control_id": "v3:abc",
                    "from": "+15551112222",
                    "media_format": {"encoding": "PCMU", "sample_rate": 8000, "channels": 1},
                },
            },
            "+15551112222",
        ),
        (
            "plivo",
            {
                "event": "start",
                "start": {"streamId": "st-2", "callId": "call-2"},
                "extra_headers": "caller=+15553334444",
            },
            "+15553334444",
        ),
    ],
)
def test_telnyx_and_plivo_work_by_configuration(phone_app, provider, start, caller) -> None:
    from voice.transports.telephony import parse_json, provider_named

    with phone_app(voice_telephony=provider) as client:
        xml = client.post(f"/telephony/{provider}/voice", data={"From": caller})
        assert xml.status_code == 200
        assert f"ws://testserver/telephony/{provider}/stream" in xml.text
        assert client.post("/telephony/twilio/voice").status_code == 404
    chosen = provider_named(provider)
    parsed = chosen.parse_start(parse_json(json.dumps(start)))
    assert parsed is not None and parsed.caller == caller
    assert chosen.serializer(parsed) is not None
