"""Reading vCard files as phones and mail programs export them."""

from __future__ import annotations

import pytest

from core.contacts.service import ContactDraft, import_contacts, list_contacts
from core.contacts.vcard import VCardError, parse_vcards

OUTLOOK_21 = (
    "BEGIN:VCARD\r\n"
    "VERSION:2.1\r\n"
    "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen\r\n"
    "TEL;WORK;VOICE:+49 30 1234567\r\n"
    "TEL;CELL;PREF:+49 151 7654321\r\n"
    "EMAIL;PREF;INTERNET:juergen@example.de\r\n"
    "END:VCARD\r\n"
)
FOLDED_40 = (
    "BEGIN:VCARD\nVERSION:4.0\nFN:Maximilian Alexander von\n  Hohenberg\n"
    "NICKNAME:Max,Maxi\nORG:Acme\nTEL;VALUE=uri;TYPE=cell:tel:+1-555-555-0100;ext=12\n"
    "END:VCARD\n"
)


def test_versions_encodings_and_folded_lines():
    assert parse_vcards(OUTLOOK_21) == [
        ContactDraft("Jürgen Müller", "juergen@example.de", "+49 151 7654321", ())
    ]
    assert parse_vcards(FOLDED_40) == [
        ContactDraft(
            "Maximilian Alexander von Hohenberg", None, "+1-555-555-0100 x12", ("Max", "Maxi")
        )
    ]
    org_only = "BEGIN:VCARD\nVERSION:3.0\nORG:Acme Plumbing\nTEL:555 0100\nEND:VCARD\n"
    assert parse_vcards(org_only) == [ContactDraft("Acme Plumbing", None, "555 0100", ())]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no vCard"),
        ("just some text", "not a readable vCard"),
        ("BEGIN:VCARD\nVERSION:3.0\nFN:Ann\n", "never closed"),
        ("BEGIN:VCARD\nVERSION:3.0\nNOTE:no name here\nEND:VCARD\n", "card 1 has no name"),
        ("BEGIN:VEVENT\nSUMMARY:x\nEND:VEVENT\n", "not a vCard"),
    ],
)
def test_unreadable_files_say_why(text, reason):
    with pytest.raises(VCardError, match=reason):
        parse_vcards(text)


def test_importing_cards_without_email_twice_does_not_double_them(engine):
    cards = parse_vcards(FOLDED_40 + OUTLOOK_21)
    with engine.begin() as conn:
        first = import_contacts(conn, "acme", "alice", cards)
        again = import_contacts(conn, "acme", "alice", cards)
        book = list_contacts(conn, "acme", "alice")
    assert len(first.created) == 2 and not first.updated
    assert not again.created and not again.updated
    assert [c.name for c in book] == ["Jürgen Müller", "Maximilian Alexander von Hohenberg"]
