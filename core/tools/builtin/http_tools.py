"""http_get: fetch a web page from an allowlisted host (level 0), as text for the agent.

Every hop of a redirect is checked against the allowlist, the body is read up to a byte cap,
and HTML is reduced to its visible text. What a page says is data, never an instruction: the
gate still judges whatever the agent does next.
"""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from core.config import Settings
from core.tools.spec import RiskLevel, ToolContext, ToolError, ToolSpec

MAX_REDIRECTS = 5
SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head"})
BLOCK_TAGS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "section", "article"})


class _TextOfHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in SKIPPED_TAGS:
            self.skipping += 1
        elif tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in SKIPPED_TAGS and self.skipping:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if not self.skipping:
            self.parts.append(data)


def html_to_text(html: str) -> tuple[str, str]:
    """(title, visible text) of an HTML document, whitespace collapsed per line."""
    parser = _TextOfHtml()
    parser.feed(html)
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return " ".join(parser.title.split()), "\n".join(line for line in lines if line)


def host_allowed(host: str, allowlist: list[str]) -> bool:
    """Exact hosts, or ``*.example.com`` for its subdomains (not example.com itself)."""
    host = host.lower().rstrip(".")
    for pattern in allowlist:
        if pattern.startswith("*."):
            if host.endswith(pattern[1:]):
                return True
        elif host == pattern:
            return True
    return False


class HttpTools:
    """http_get bound to the configured allowlist and size cap."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None):
        self.allowlist = [
            h.strip().lower() for h in settings.http_allowlist.split(",") if h.strip()
        ]
        self.max_bytes = settings.http_max_bytes
        self.transport = transport

    def _check(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ToolError("invalid_arguments", f"only http(s) URLs can be fetched: {url!r}")
        if not host_allowed(parts.hostname, self.allowlist):
            raise ToolError(
                "host_not_allowed",
                f"{parts.hostname} is not on the list of hosts Baton may fetch from",
            )

    async def get(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        """Fetch ``url`` (following allowlisted redirects) and return its text."""
        url = args["url"]
        max_chars = int(args.get("max_chars", 20_000))
        async with httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(15.0),
            transport=self.transport,
            headers={"User-Agent": "Baton/0.1 (+http_get)"},
            trust_env=False,
        ) as client:
            for _ in range(MAX_REDIRECTS + 1):
                self._check(url)
                try:
                    async with client.stream("GET", url) as resp:
                        if resp.is_redirect and "location" in resp.headers:
                            url = urljoin(url, resp.headers["location"])
                            continue
                        body, truncated = await self._read(resp)
                        return self._result(url, resp, body, truncated, max_chars)
                except httpx.TimeoutException as exc:
                    raise ToolError("timeout", f"{url} did not answer in time", True) from exc
                except httpx.TransportError as exc:
                    raise ToolError(
                        "upstream_unavailable", f"could not reach {url}: {exc}", True
                    ) from exc
        raise ToolError("too_many_redirects", f"more than {MAX_REDIRECTS} redirects from {url}")

    async def _read(self, resp: httpx.Response) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= self.max_bytes:
                return b"".join(chunks)[: self.max_bytes], True
        return b"".join(chunks), False

    @staticmethod
    def _result(
        url: str, resp: httpx.Response, body: bytes, truncated: bool, max_chars: int
    ) -> dict[str, Any]:
        if resp.status_code >= 500:
            raise ToolError("upstream_error", f"{url} answered {resp.status_code}", True)
        if resp.status_code >= 400:
            raise ToolError("http_error", f"{url} answered {resp.status_code}", False)
        content_type = resp.headers.get("content-type", "")
        text = body.decode(resp.encoding or "utf-8", errors="replace")
        title = ""
        if "html" in content_type:
            title, text = html_to_text(text)
        elif not content_type.startswith("text/") and "json" not in content_type:
            text = f"({len(body)} bytes of {content_type or 'unknown type'}, not shown)"
        if len(text) > max_chars:
            text, truncated = text[:max_chars], True
        return {
            "url": url,
            "status": resp.status_code,
            "content_type": content_type,
            "title": title,
            "text": text,
            "truncated": truncated,
        }

    def specs(self) -> list[ToolSpec]:
        """http_get, when any host is allowlisted (otherwise it could never succeed)."""
        if not self.allowlist:
            return []
        hosts = ", ".join(self.allowlist[:10])
        return [
            ToolSpec(
                name="http_get",
                description=f"Fetch a web page and return its text. Allowed hosts: {hosts}.",
                fn=self.get,
                input_schema={
                    "type": "object",
                    "required": ["url"],
                    "properties": {
                        "url": {"type": "string", "maxLength": 2000},
                        "max_chars": {"type": "integer", "minimum": 100, "maximum": 100_000},
                    },
                    "additionalProperties": False,
                },
                risk_level=RiskLevel.PURE_READ,
                scopes=("web:read",),
                timeout_s=30,
                max_attempts=2,
            )
        ]
