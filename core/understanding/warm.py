"""Load what the command layer reads lazily before the first request needs it.

The command grammar compiles a few hundred patterns on its first parse, and matching names
by sound reads a pronunciation dictionary on the first name it resolves: together about half
a second on two cores, which the first caller who named a person used to wait for.
"""

from __future__ import annotations

from functools import cache

from core.contacts.names import load_pronunciations
from core.ids import utcnow
from core.understanding.command import ParseContext
from core.understanding.parser import parse


@cache
def warm_understanding() -> None:
    """Compile the grammar and load the pronunciation dictionary, once per process."""
    parse("Book a meeting with Alice tomorrow at ten.", ParseContext(now=utcnow()))
    load_pronunciations()
