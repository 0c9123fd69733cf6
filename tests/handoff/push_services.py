"""Local stand-ins for Google's FCM and a browser push service, speaking their wire protocols.

* :class:`FcmService`: an OAuth 2.0 token endpoint (JWT-bearer grant, RS256 assertion checked
  against the test service account's public key) and the FCM HTTP v1 ``messages:send``
  endpoint (checks the bearer token and the message shape, answers like FCM, including the
  UNREGISTERED error).
* :class:`WebPushService`: an RFC 8030 push endpoint that checks the VAPID (RFC 8292)
  signature and decrypts the RFC 8291 payload with the subscription's private keys.

Both model the device the way real ones behave: notifications with the same collapse key /
Topic / tag replace each other, so ``displayed`` is what a person would see.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Server:
    """A threaded HTTP server on 127.0.0.1 with a random port."""

    def __init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._answer(b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._answer(self.rfile.read(length))

            def _answer(self, body: bytes) -> None:
                status, headers, payload = outer.handle(self.path, dict(self.headers), body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.lock = threading.Lock()
        # While cleared, accepted messages are recorded but the answer is held back: a client
        # killed now has sent its message without ever learning that it arrived.
        self.release = threading.Event()
        self.release.set()
        self.received_event = threading.Event()
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, Any]:
        raise NotImplementedError


# ----------------------------------------------------------------------------- FCM


GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
FCM_SCOPES = {
    "https://www.googleapis.com/auth/firebase.messaging",
    "https://www.googleapis.com/auth/firebase",
    "https://www.googleapis.com/auth/cloud-platform",
}


def _has_fcm_scope(scope: str) -> bool:
    return bool(FCM_SCOPES & set(scope.split()))


def _error(code: int, status: str, message: str, fcm_code: str | None = None) -> dict:
    err: dict[str, Any] = {"code": code, "message": message, "status": status}
    if fcm_code:
        err["details"] = [
            {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": fcm_code}
        ]
    return {"error": err}


@dataclass
class FcmMessage:
    token: str
    message: dict[str, Any]
    collapse_key: str
    validate_only: bool


@dataclass
class FcmService(_Server):
    project_id: str = "baton-test"
    client_email: str = "baton-push@baton-test.iam.gserviceaccount.com"
    received: list[FcmMessage] = field(default_factory=list)
    displayed: dict[str, dict[str, dict]] = field(default_factory=lambda: defaultdict(dict))
    unregistered: set[str] = field(default_factory=set)
    fail_next: int = 0
    tokens_issued: int = 0
    rejected: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        _Server.__init__(self)
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._access_tokens: set[str] = set()

    def service_account_file(self, directory: Path) -> Path:
        """A service-account JSON whose key is ours and whose token_uri points here."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        info = {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": "test-key-1",
            "private_key": pem,
            "client_email": self.client_email,
            "client_id": "1234567890",
            "auth_uri": f"{self.base}/auth",
            "token_uri": f"{self.base}/token",
            "auth_provider_x509_cert_url": f"{self.base}/certs",
            "client_x509_cert_url": f"{self.base}/certs/test",
            "universe_domain": "googleapis.com",
        }
        path = directory / "service-account.json"
        path.write_text(json.dumps(info))
        return path

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, Any]:
        route = urlsplit(path).path
        if route == "/token":
            return self._token(body)
        prefix = f"/v1/projects/{self.project_id}/messages:send"
        if route == prefix:
            return self._send(headers, body)
        if route == f"/v1/projects/-/serviceAccounts/{self.client_email}/allowedLocations":
            # IAM's answer for an account without a regional access boundary.
            if not self._bearer_ok(headers):
                return 401, {"Content-Type": "application/json"}, _error(401, "UNAUTHENTICATED", "")
            return 200, {"Content-Type": "application/json"}, {"encodedLocations": "0x0"}
        return 404, {"Content-Type": "application/json"}, _error(404, "NOT_FOUND", route)

    def _token(self, body: bytes) -> tuple[int, dict, Any]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        ctype = {"Content-Type": "application/json"}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return 400, ctype, {"error": "unsupported_grant_type"}
        try:
            head_b, claims_b, sig_b = form["assertion"].split(".")
            header = json.loads(unb64url(head_b))
            claims = json.loads(unb64url(claims_b))
            assert header["alg"] == "RS256"
            self._key.public_key().verify(
                unb64url(sig_b),
                f"{head_b}.{claims_b}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (KeyError, ValueError, AssertionError, InvalidSignature) as exc:
            self.rejected.append(f"token: {exc!r}")
            return 400, ctype, {"error": "invalid_grant", "error_description": repr(exc)}
        now = time.time()
        ok = (
            claims.get("iss") == self.client_email
            # google-auth addresses the assertion to Google's token endpoint, as Google requires.
            and claims.get("aud") in (GOOGLE_TOKEN_AUDIENCE, f"{self.base}/token")
            and _has_fcm_scope(claims.get("scope", ""))
            and claims.get("iat", 0) <= now + 60 < claims.get("exp", 0) + 60
        )
        if not ok:
            self.rejected.append(f"token claims: {claims}")
            return 400, ctype, {"error": "invalid_grant", "error_description": "bad claims"}
        token = "ya29." + secrets.token_urlsafe(24)
        with self.lock:
            self._access_tokens.add(token)
            self.tokens_issued += 1
        return 200, ctype, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _bearer_ok(self, headers: dict[str, str]) -> bool:
        auth = headers.get("Authorization") or headers.get("authorization") or ""
        return auth.startswith("Bearer ") and auth[7:] in self._access_tokens

    def _send(self, headers: dict[str, str], body: bytes) -> tuple[int, dict, Any]:
        ctype = {"Content-Type": "application/json"}
        if not self._bearer_ok(headers):
            self.rejected.append("send: bad bearer")
            return 401, ctype, _error(401, "UNAUTHENTICATED", "Request had invalid credentials.")
        problem = _message_problem(body)
        if problem:
            self.rejected.append(f"send: {problem}")
            return 400, ctype, _error(400, "INVALID_ARGUMENT", problem)
        data = json.loads(body)
        msg = data["message"]
        token = msg["token"]
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503, ctype, _error(503, "UNAVAILABLE", "The service is unavailable.")
            if token in self.unregistered:
                return 404, ctype, _error(404, "NOT_FOUND", "Not found.", "UNREGISTERED")
            collapse = msg.get("android", {}).get("collapse_key", "")
            self.received.append(
                FcmMessage(token, msg, collapse, bool(data.get("validate_only", False)))
            )
            if not data.get("validate_only"):
                self.displayed[token][collapse or secrets.token_hex(4)] = msg
        self.received_event.set()
        self.release.wait()
        name = f"projects/{self.project_id}/messages/{secrets.token_hex(8)}"
        return 200, ctype, {"name": name}


def _message_problem(body: bytes) -> str | None:
    """What is wrong with an FCM v1 send request body, or None."""
    try:
        data = json.loads(body)
    except ValueError:
        return "body is not JSON"
    msg = data.get("message")
    if not isinstance(msg, dict):
        return "missing 'message'"
    targets = [k for k in ("fid", "token", "topic", "condition") if k in msg]
    if targets != ["token"]:
        return f"exactly one target expected, got {targets}"
    note = msg.get("notification", {})
    if not isinstance(note.get("title"), str) or not isinstance(note.get("body"), str):
        return "notification needs a title and a body"
    if not all(isinstance(v, str) for v in msg.get("data", {}).values()):
        return "data values must be strings"
    android = msg.get("android", {})
    if android.get("priority") not in (None, "high", "normal"):
        return "bad android.priority"
    topic = msg.get("webpush", {}).get("headers", {}).get("Topic", "")
    if topic and (len(topic) > 32 or not all(c.isalnum() or c in "-_" for c in topic)):
        return "webpush Topic must be at most 32 base64url characters"
    return None


# ----------------------------------------------------------------------------- Web Push


@dataclass
class Subscriber:
    """A browser's push subscription: its keys stay here, the JSON goes to the server."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes

    def subscription_json(self) -> dict[str, Any]:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }


@dataclass
class WebPushMessage:
    subscription_id: str
    payload: dict[str, Any]
    topic: str | None
    ttl: int
    vapid_public_key: str


@dataclass
class WebPushService(_Server):
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    received: list[WebPushMessage] = field(default_factory=list)
    displayed: dict[str, dict[str, dict]] = field(default_factory=lambda: defaultdict(dict))
    gone: set[str] = field(default_factory=set)
    rejected: list[str] = field(default_factory=list)
    fail_next: int = 0

    def __post_init__(self) -> None:
        _Server.__init__(self)

    def subscribe(self) -> Subscriber:
        sub_id = secrets.token_hex(8)
        sub = Subscriber(
            f"{self.base}/push/{sub_id}",
            ec.generate_private_key(ec.SECP256R1()),
            secrets.token_bytes(16),
        )
        self.subscribers[sub_id] = sub
        return sub

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict, Any]:
        h = {k.lower(): v for k, v in headers.items()}
        sub_id = urlsplit(path).path.rsplit("/", 1)[-1]
        if sub_id in self.gone:
            return 410, {}, b"subscription expired"
        sub = self.subscribers.get(sub_id)
        if sub is None:
            return 404, {}, b"no such subscription"
        try:
            vapid_key = self._check_vapid(h.get("authorization", ""))
            if h.get("content-encoding") != "aes128gcm":
                raise ValueError(f"content-encoding {h.get('content-encoding')!r}")
            if "ttl" not in h:
                raise ValueError("TTL header missing")
            topic = h.get("topic")
            if topic and (len(topic) > 32 or not all(c.isalnum() or c in "-_" for c in topic)):
                raise ValueError("bad Topic header")
            plain = http_ece.decrypt(
                body, private_key=sub.private_key, auth_secret=sub.auth, version="aes128gcm"
            )
            payload = json.loads(plain)
        except Exception as exc:
            self.rejected.append(repr(exc))
            return 400, {}, repr(exc).encode()
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503, {"Retry-After": "1"}, b"busy"
            self.received.append(WebPushMessage(sub_id, payload, topic, int(h["ttl"]), vapid_key))
            # The service worker shows it with this tag, replacing an older one with the same.
            self.displayed[sub_id][payload.get("tag") or secrets.token_hex(4)] = payload
        self.received_event.set()
        self.release.wait()
        return 201, {"Location": f"{self.base}/msg/{secrets.token_hex(8)}"}, b""

    def _check_vapid(self, auth: str) -> str:
        """Verify an RFC 8292 'vapid t=<jwt>, k=<key>' header; returns k."""
        scheme, _, rest = auth.partition(" ")
        if scheme.lower() != "vapid":
            raise ValueError("Authorization is not vapid")
        parts = dict(p.strip().split("=", 1) for p in rest.split(","))
        jwt, k = parts["t"], parts["k"]
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(k))
        head_b, claims_b, sig_b = jwt.split(".")
        if json.loads(unb64url(head_b)).get("alg") != "ES256":
            raise ValueError("VAPID JWT must be ES256")
        sig = unb64url(sig_b)
        der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
        public.verify(der, f"{head_b}.{claims_b}".encode(), ec.ECDSA(hashes.SHA256()))
        claims = json.loads(unb64url(claims_b))
        if claims.get("aud") != self.base:
            raise ValueError(f"aud {claims.get('aud')!r} is not this push service")
        if not time.time() < claims.get("exp", 0) <= time.time() + 24 * 3600:
            raise ValueError("exp must be within 24 hours")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https://")):
            raise ValueError("sub must be a mailto: or https: URL")
        return k
