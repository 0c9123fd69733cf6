"""The README's configuration tables list every BATON_* setting with its current default."""

import re
from pathlib import Path

from scripts.readme_settings import settings_section

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_configuration_tables_are_current():
    text = README.read_text()
    table = re.search(r"<!-- settings:start -->\n(.*)\n<!-- settings:end -->", text, re.S)
    assert table, "README lost its settings markers"
    assert table.group(1).strip() == settings_section().strip(), (
        "README configuration tables are stale: run `make docs`"
    )


def test_readme_has_exactly_the_two_setup_commands_ci_uses():
    text = README.read_text()
    assert "make serve" in text and "make test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "make test" in ci
