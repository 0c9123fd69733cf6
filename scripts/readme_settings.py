"""Rewrite the README's configuration table from core/config.py."""

import re
from pathlib import Path

from core.config import settings_table

readme = Path(__file__).resolve().parents[1] / "README.md"
text = readme.read_text()
table = f"<!-- settings:start -->\n{settings_table()}\n<!-- settings:end -->"
readme.write_text(
    re.sub(r"<!-- settings:start -->.*<!-- settings:end -->", table, text, flags=re.S)
)
