"""Baton's own tools: calendar, email, notes, web pages and the sandboxed executor."""

from __future__ import annotations

from core.config import Settings
from core.tools.builtin.calendar_tools import CalendarTools
from core.tools.builtin.email_tools import EmailTools
from core.tools.builtin.http_tools import HttpTools
from core.tools.builtin.notes_tools import note_specs
from core.tools.builtin.sandbox_tools import SkillFolder, sandbox_spec
from core.tools.spec import ToolSpec


def builtin_tools(settings: Settings, skill_folder: SkillFolder | None = None) -> list[ToolSpec]:
    """Every built-in tool this configuration supports.

    email_send appears only with BATON_SMTP_URL, http_get only with BATON_HTTP_ALLOWLIST, and
    sandbox_run only where bubblewrap works: a tool that cannot succeed is not shown at all.
    """
    return [
        *CalendarTools(settings).specs(),
        *EmailTools(settings).specs(),
        *note_specs(),
        *HttpTools(settings).specs(),
        *sandbox_spec(settings, skill_folder),
    ]
