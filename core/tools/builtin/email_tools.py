"""Email tools: draft (level 2) and send (level 3) through a real SMTP server.

Sending is idempotent by the call's key, twice over: the Message-ID is derived from the key
(so a receiver sees a repeat as the same message), and a per-key sent ledger row is committed
right after the server's 250 reply (so a replay after a crash finds it and does not send
again). The only window left is a crash between the 250 and that commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.config import Settings
from core.ids import new_id, sha256_hex, utcnow
from core.tools.builtin.storage import read, write
from core.tools.builtin.tables import EmailDraft, EmailSend
from core.tools.spec import Idempotency, RiskLevel, ToolContext, ToolError, ToolSpec
from core.understanding.command import Intent
from core.understanding.grammar import IntentPhrases, phrases

DRAFTS = EmailDraft.__table__  # type: ignore[attr-defined]
SENDS = EmailSend.__table__  # type: ignore[attr-defined]
ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$|^[^@\s<>,;\"]+@localhost$")
MAX_RECIPIENTS = 20

_MAIL = r"(?:e-?mail|mail|message|note|line|email message|memo)"
_NOT_ME = r"(?!me\b|us\b|you\b|myself\b)"
INTENTS: tuple[IntentPhrases, ...] = (
    phrases(
        Intent.EMAIL_SEND,
        (
            r"^(?:send|shoot|fire off|drop|write back|reply)(?: (?:off|out))? (?:an? |the "
            r")?(?:quick |short "
            rf"|brief )?{_MAIL}\b",
            0.95,
        ),
        (
            rf"^(?:send|shoot|drop|fire off) {_NOT_ME}\w+(?: \w+)? (?:an? |the )?(?:quick |short "
            rf")?{_MAIL}\b",
            0.95,
        ),
        (rf"^(?:e-?mail|mail|message) {_NOT_ME}\w", 0.95),
        (r"\bsend (?:an? |the )?(?:e-?mail|mail)\b", 0.9),
        (
            rf"(?:^|\bmake sure (?:that )?){_NOT_ME}[a-z]+(?: [a-z]+)? (?:gets|receives|is sent)"
            r" (?:an? |the )?(?:e-?mail|message)\b",
            0.85,
        ),
        (
            r"\b(?:get|send|fire|shoot|drop) (?:an? |the |this |that )?(?:quick |short )?(?:e-?mail"
            r"|mail|message|reply|note) (?:out |off |over )?to (?!me\b|myself\b)\w",
            0.9,
        ),
        (
            rf"^(?:tell|let|inform|notify|ask|warn|remind) {_NOT_ME}\w+(?: \w+)? (?:know )?"
            r"(?:that|about|to|i|i'm|i'll|we|we're|the|my|our|he|she|they|it's|its)\b",
            0.8,
        ),
        (r"^(?:reply|respond|answer|write back) to\b", 0.85),
        (r"\b(?:e-?mail|send) it to\b", 0.85),
        (r"\b(?:and|then) send it(?: (?:off|now|right away))?\s*$", 0.97),
    ),
    phrases(
        Intent.EMAIL_DRAFT,
        (r"\bdraft(?:ed|ing)?\b", 0.96),
        (r"\b(?:hold (?:it|off)(?: on sending)?|keep it as a draft|leave it as a draft)\s*$", 0.96),
        (
            r"\b(?:start(?:ing)?|begin(?:ning)?) (?:writing|drafting|composing|on|a)? ?"
            r"(?:an? |the )?(?:e-?mail|mail|message|reply)\b"
            r"|\b(?:writing|drafting|composing|preparing) (?:an? |the )?(?:e-?mail|mail|message"
            r"|reply)\b",
            0.96,
        ),
        (
            r"^(?:write|compose|prepare|prep|start|put together)(?: up)? (?:an? |the )?(?:quick |"
            r"short |brief "
            r")?(?:e-?mail|mail|message|reply|response|letter)\b",
            0.96,
        ),
        (r"\b(?:write|compose|prepare) (?:an? )?(?:e-?mail|mail|message) (?:to|for)\b", 0.96),
        (r"\b(?:don't|do not|dont) send (?:it|this|that)?\b", 0.96),
        (r"^write (?:to|back to) (?!me\b)\w", 0.9),
        (r"\blet me (?:look at|see|check|review|read) it (?:first|before)\b", 0.96),
    ),
)


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to deliver, parsed from BATON_SMTP_URL."""

    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    username: str | None
    password: str | None
    timeout_s: float

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        """``smtp://[user:pass@]host[:port][?starttls=1&timeout=20]`` or ``smtps://...``."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("BATON_SMTP_URL must look like smtp://host:port or smtps://host:port")
        query = parse_qs(parts.query)
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            implicit_tls=implicit,
            starttls=query.get("starttls", ["0"])[0] in ("1", "true", "yes"),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout_s=float(query.get("timeout", ["20"])[0]),
        )


def _addresses(values: list[str], field: str) -> list[str]:
    clean = [v.strip() for v in values]
    bad = [v for v in clean if not ADDRESS.match(v)]
    if bad:
        raise ToolError("invalid_arguments", f"{field}: not an email address: {bad[0]!r}")
    return clean


def _one_line(value: str, field: str) -> str:
    if "\r" in value or "\n" in value:
        raise ToolError("invalid_arguments", f"{field} must be a single line")
    return value.strip()


def confirm_send(args: dict[str, Any]) -> str:
    """The spoken yes/no question before an email goes out."""
    if args.get("draft_id") and not args.get("to"):
        return "Should I send your draft email now?"
    to = list(args["to"])
    more = f" and {len(to) - 2} more" if len(to) > 2 else ""
    body = " ".join(str(args.get("body", "")).split()[:25])
    saying = f" saying: {body}" if body else ""
    return f"Should I send the email '{args['subject']}' to {', '.join(to[:2])}{more}{saying}?"


def _deliver(target: SmtpTarget, message: EmailMessage, sender: str, rcpts: list[str]) -> str:
    """One SMTP transaction; returns the server's reply to DATA (its 250 line)."""
    cls = smtplib.SMTP_SSL if target.implicit_tls else smtplib.SMTP
    with cls(target.host, target.port, timeout=target.timeout_s) as smtp:
        smtp.ehlo_or_helo_if_needed()
        if target.starttls:
            smtp.starttls()
            smtp.ehlo()
        if target.username:
            smtp.login(target.username, target.password or "")
        code, reply = smtp.mail(sender)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, sender)
        refused: dict[str, tuple[int, bytes]] = {}
        for rcpt in rcpts:
            code, reply = smtp.rcpt(rcpt)
            if code not in (250, 251):
                refused[rcpt] = (code, reply)
        if refused:
            # All or nothing: a partial send would be hard for the person to reason about.
            smtp.rset()
            raise smtplib.SMTPRecipientsRefused(refused)  # type: ignore[arg-type]
        code, reply = smtp.data(message.as_bytes())
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)
        return f"{code} {reply.decode(errors='replace')}"


def _classify(exc: Exception) -> ToolError:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        who = ", ".join(exc.recipients)
        return ToolError("recipient_refused", f"the mail server refused {who}")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return ToolError("auth_failed", "the mail server refused Baton's credentials")
    if isinstance(exc, smtplib.SMTPResponseException):
        transient = 400 <= exc.smtp_code < 500
        kind = "upstream_error" if transient else "rejected"
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        return ToolError(kind, f"the mail server said {exc.smtp_code} {text}".strip(), transient)
    # Connection refused, reset, timed out: the server is not there right now.
    return ToolError("upstream_unavailable", f"mail server unreachable: {exc}", True)


class EmailTools:
    """email_draft and email_send, bound to one SMTP target and sender."""

    def __init__(self, settings: Settings) -> None:
        self.target = SmtpTarget.parse(settings.smtp_url) if settings.smtp_url else None
        self.sender = settings.email_from
        self.domain = self.sender.rpartition("@")[2] or "localhost"

    def message_id(self, ctx: ToolContext) -> str:
        """The Message-ID of the send made under this call's idempotency key."""
        digest = sha256_hex(f"{ctx.tenant_id}\0{ctx.user_id}\0{ctx.idempotency_key}")[:32]
        return f"<baton.{digest}@{self.domain}>"

    async def draft(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """Store a draft for the person to review; a replay returns the same draft."""
        to = _addresses(args["to"], "to")
        cc = _addresses(args.get("cc", []), "cc")
        subject = _one_line(args["subject"], "subject")

        def save(conn: Connection) -> dict[str, Any]:
            found = (
                conn.execute(
                    select(DRAFTS).where(
                        DRAFTS.c.tenant_id == ctx.tenant_id,
                        DRAFTS.c.user_id == ctx.user_id,
                        DRAFTS.c.idempotency_key == ctx.idempotency_key,
                    )
                )
                .mappings()
                .first()
            )
            row: dict[str, Any] = dict(found) if found is not None else {}
            if not row:
                row = {
                    "draft_id": new_id("drf"),
                    "tenant_id": ctx.tenant_id,
                    "user_id": ctx.user_id,
                    "to": to,
                    "cc": cc,
                    "subject": subject,
                    "body": args["body"],
                    "status": "draft",
                    "idempotency_key": ctx.idempotency_key,
                    "run_id": ctx.run_id,
                    "created_at": utcnow(),
                }
                conn.execute(insert(DRAFTS).values(**row))
            return {
                "draft_id": row["draft_id"],
                "to": row["to"],
                "cc": row["cc"] or [],
                "subject": row["subject"],
                "body": row["body"],
                "status": row["status"],
            }

        return await write(ctx.engine, save)

    async def send(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """Send a draft (``draft_id``) or a new message; at most once per idempotency key."""
        if self.target is None:
            raise ToolError("not_configured", "email sending is not configured (BATON_SMTP_URL)")
        sent = await read(ctx.engine, lambda c: self._ledger(c, ctx))
        if sent is not None:
            return {**sent, "replayed": True}
        draft_id = args.get("draft_id")
        if draft_id:
            draft = await read(ctx.engine, lambda c: self._draft(c, ctx, draft_id))
            to, cc, subject, body = draft["to"], draft["cc"] or [], draft["subject"], draft["body"]
        else:
            missing = [k for k in ("to", "subject", "body") if k not in args]
            if missing:
                raise ToolError("invalid_arguments", f"give draft_id, or {', '.join(missing)}")
            to, cc = args["to"], args.get("cc", [])
            subject, body = args["subject"], args["body"]
        to, cc = _addresses(to, "to"), _addresses(cc, "cc")
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(to)
        if cc:
            message["Cc"] = ", ".join(cc)
        message["Subject"] = _one_line(subject, "subject")
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = self.message_id(ctx)
        message.set_content(body)
        try:
            reply = await asyncio.to_thread(_deliver, self.target, message, self.sender, to + cc)
        except (smtplib.SMTPException, OSError) as exc:
            raise _classify(exc) from exc
        row = {
            "send_id": new_id("snd"),
            "tenant_id": ctx.tenant_id,
            "user_id": ctx.user_id,
            "idempotency_key": ctx.idempotency_key,
            "message_id": message["Message-ID"],
            "draft_id": draft_id,
            "recipients": to + cc,
            "subject": message["Subject"],
            "smtp_reply": reply[:500],
            "run_id": ctx.run_id,
            "sent_at": utcnow(),
        }

        def record(conn: Connection) -> None:
            conn.execute(insert(SENDS).values(**row))
            if draft_id:
                conn.execute(
                    update(DRAFTS)
                    .where(DRAFTS.c.draft_id == draft_id, DRAFTS.c.tenant_id == ctx.tenant_id)
                    .values(status="sent", sent_at=row["sent_at"])
                )

        # IntegrityError: a concurrent replay of this very call recorded the same send first.
        with contextlib.suppress(IntegrityError):
            await write(ctx.engine, record)
        return {
            "message_id": row["message_id"],
            "recipients": row["recipients"],
            "subject": row["subject"],
            "replayed": False,
        }

    @staticmethod
    def _ledger(conn: Connection, ctx: ToolContext) -> dict[str, Any] | None:
        row = (
            conn.execute(
                select(SENDS).where(
                    SENDS.c.tenant_id == ctx.tenant_id,
                    SENDS.c.user_id == ctx.user_id,
                    SENDS.c.idempotency_key == ctx.idempotency_key,
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return {
            "message_id": row["message_id"],
            "recipients": row["recipients"],
            "subject": row["subject"],
        }

    @staticmethod
    def _draft(conn: Connection, ctx: ToolContext, draft_id: str) -> dict[str, Any]:
        row = (
            conn.execute(
                select(DRAFTS).where(
                    DRAFTS.c.tenant_id == ctx.tenant_id,
                    DRAFTS.c.user_id == ctx.user_id,
                    DRAFTS.c.draft_id == draft_id,
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise ToolError("not_found", f"no draft '{draft_id}'")
        if row["status"] == "sent":
            raise ToolError("already_sent", f"draft '{draft_id}' was sent already")
        return dict(row)

    def specs(self) -> list[ToolSpec]:
        """email_draft always; email_send when an SMTP server is configured."""
        addresses = {
            "type": "array",
            "items": {"type": "string", "maxLength": 254},
            "maxItems": MAX_RECIPIENTS,
        }
        message = {
            "to": {**addresses, "minItems": 1},
            "cc": addresses,
            "subject": {"type": "string", "minLength": 1, "maxLength": 500},
            "body": {"type": "string", "minLength": 1, "maxLength": 50_000},
        }
        specs = [
            ToolSpec(
                name="email_draft",
                description="Write an email draft for the user to review; nothing is sent.",
                fn=self.draft,
                input_schema={
                    "type": "object",
                    "required": ["to", "subject", "body"],
                    "properties": message,
                    "additionalProperties": False,
                },
                risk_level=RiskLevel.EXTERNAL_DRAFT,
                scopes=("email:draft",),
                timeout_s=10,
                max_attempts=2,
                idempotency=Idempotency.KEYED,
            )
        ]
        if self.target is not None:
            specs.append(
                ToolSpec(
                    name="email_send",
                    description=(
                        "Send an email: a draft by draft_id, or to/subject/body directly "
                        "(asks the user first)."
                    ),
                    fn=self.send,
                    input_schema={
                        "type": "object",
                        "properties": {"draft_id": {"type": "string", "maxLength": 40}, **message},
                        "additionalProperties": False,
                    },
                    risk_level=RiskLevel.EXTERNAL_SIDE_EFFECT,
                    scopes=("email:send",),
                    timeout_s=30,
                    max_attempts=3,
                    idempotency=Idempotency.KEYED,
                    confirm=confirm_send,
                )
            )
        return specs
