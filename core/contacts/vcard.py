"""Reading contacts out of vCard files (versions 2.1, 3.0 and 4.0, as phones export them)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import vobject
from vobject.base import getLogicalLines, parseLine
from vobject.icalendar import stringToTextValues

from core.contacts.service import MAX_CONTACTS, ContactDraft
from core.errors import BatonError


class VCardError(BatonError):
    """The body is not a readable vCard file."""

    status = 400
    code = "bad_request"


def parse_vcards(text: str) -> list[ContactDraft]:
    """One draft per card: its formatted name (or N, or ORG), preferred email and phone, and
    nicknames. Raises :class:`VCardError` saying what is wrong with the file."""
    try:
        # vobject is a parser of untrusted text that fails in many ways on odd input.
        cards = list(vobject.readComponents(text))
        nicknames = list(_nicknames(text))
    except Exception as exc:
        raise VCardError(f"not a readable vCard file: {exc}") from exc
    if not cards:
        raise VCardError("no vCard in the body (expected BEGIN:VCARD ... END:VCARD)")
    if len(cards) > MAX_CONTACTS:
        raise VCardError(f"a file holds at most {MAX_CONTACTS} cards")
    drafts = []
    for number, card in enumerate(cards, start=1):
        if card.name.upper() != "VCARD":
            raise VCardError(f"item {number} is a {card.name}, not a vCard")
        name = _name(card)
        if name is None:
            raise VCardError(f"card {number} has no name (FN, N or ORG)")
        drafts.append(
            ContactDraft(
                name=name,
                email=_preferred(card, "email"),
                phone=_phone(_preferred(card, "tel")),
                aliases=tuple(nicknames[number - 1]) if number <= len(nicknames) else (),
            )
        )
    return drafts


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " ".join(_text(v) for v in value if v)
    return " ".join(str(value).split()) if value is not None else ""


def _name(card: Any) -> str | None:
    for line in card.contents.get("fn", []):
        if _text(line.value):
            return _text(line.value)
    for line in card.contents.get("n", []):
        n = line.value
        parts = [_text(getattr(n, part, "")) for part in ("prefix", "given", "additional")]
        parts += [_text(getattr(n, part, "")) for part in ("family", "suffix")]
        full = " ".join(p for p in parts if p)
        if full:
            return full
    for line in card.contents.get("org", []):
        if _text(line.value):
            return _text(line.value)
    return None


def _is_preferred(line: Any) -> bool:
    types = [t.upper() for t in line.params.get("TYPE", [])]
    singles = [s.upper() for s in line.singletonparams]
    return "PREF" in types or "PREF" in singles or "PREF" in line.params


def _preferred(card: Any, key: str) -> str | None:
    """The value marked preferred, else the first one given."""
    values = [line for line in card.contents.get(key, []) if _text(line.value)]
    chosen = next((line for line in values if _is_preferred(line)), values[0] if values else None)
    return _text(chosen.value) if chosen is not None else None


def _phone(value: str | None) -> str | None:
    """The number of a vCard 4 ``tel:`` URI ("tel:+1-555-0100;ext=12" is "+1-555-0100 x12")."""
    if value is None or not value.lower().startswith("tel:"):
        return value
    number, _, params = value[4:].partition(";")
    ext = next((p[4:] for p in params.split(";") if p.lower().startswith("ext=")), "")
    return f"{number} x{ext}" if ext else number


def _nicknames(text: str) -> Iterator[list[str]]:
    """Each top-level card's nicknames, in card order. vobject keeps only the first of a
    comma-separated NICKNAME list, so the lines are read here with its own tokenizer."""
    depth = 0
    current: list[str] = []
    for line, number in getLogicalLines(io.StringIO(text)):
        name, _params, value, _group = parseLine(line, number)
        name, value = name.upper(), value.strip()
        if name == "BEGIN" and value.upper() == "VCARD":
            depth += 1
            if depth == 1:
                current = []
        elif name == "END" and value.upper() == "VCARD":
            depth -= 1
            if depth == 0:
                yield current
        elif name == "NICKNAME" and depth == 1:
            current.extend(n.strip() for n in stringToTextValues(value) if n.strip())
