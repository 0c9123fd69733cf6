"""Rewrite the README's configuration tables from the settings of core, voice and handoff."""

import re
from pathlib import Path

from pydantic_settings import BaseSettings

from core.config import Settings, settings_table
from handoff.config import HandoffSettings
from voice.config import VoiceSettings

README = Path(__file__).resolve().parents[1] / "README.md"
SECTIONS: tuple[tuple[str, str, type[BaseSettings]], ...] = (
    ("Core", "core/config.py", Settings),
    ("Voice", "voice/config.py", VoiceSettings),
    ("Handoff", "handoff/config.py", HandoffSettings),
)


def settings_section() -> str:
    """What goes between the README's settings markers: one table per package."""
    return "\n\n".join(
        f"### {title} (`{path}`)\n\n{settings_table(cls)}" for title, path, cls in SECTIONS
    )


def main() -> None:
    """Replace the text between the markers with the current tables."""
    text = README.read_text()
    section = f"<!-- settings:start -->\n{settings_section()}\n<!-- settings:end -->"
    README.write_text(
        re.sub(
            r"<!-- settings:start -->.*<!-- settings:end -->",
            lambda _match: section,
            text,
            flags=re.S,
        )
    )


if __name__ == "__main__":
    main()
