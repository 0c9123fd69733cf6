"""The address book: each user's contacts, and resolving a spoken name to one of them.

Every function takes the caller's tenant and user first and scopes its query to them, so one
person's contacts are invisible to everyone else (not found, never forbidden). ``resolve_name``
is pure: callers load the contacts once with :func:`list_contacts` and resolve as many names as
a command holds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.contacts.names import normalise
from core.contacts.resolve import Contact, NameMatch, Resolution, resolve_name
from core.contacts.tables import CONTACTS
from core.errors import Conflict, InvalidInput, NotFound
from core.ids import new_id, utcnow

MAX_NAME_CHARS = 200
MAX_ALIASES = 20
MAX_ALIAS_CHARS = 100
MAX_CONTACTS = 5000
MAX_PHONE_CHARS = 64
_PHONE = re.compile(r"^\+?[0-9 ().\-/]{3,40}(?:\s*(?:x|ext\.?|extension)\s*[0-9]{1,8})?$", re.I)
__all__ = [
    "Contact",
    "ContactChanges",
    "ContactDraft",
    "ImportReport",
    "NameMatch",
    "Resolution",
    "create_contact",
    "delete_contact",
    "get_contact",
    "import_contacts",
    "list_contacts",
    "resolve_name",
    "update_contact",
]


@dataclass(frozen=True)
class ContactDraft:
    """What a person enters for a contact, before it is validated and stored."""

    name: str
    email: str | None = None
    phone: str | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ContactChanges:
    """A partial edit; ``None`` leaves a field as it is, ``clear_*`` empties it."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    aliases: tuple[str, ...] | None = None
    clear_email: bool = False
    clear_phone: bool = False


@dataclass(frozen=True)
class ImportReport:
    """What a vCard import did: contacts created and contacts updated (matched by email)."""

    created: tuple[Contact, ...]
    updated: tuple[Contact, ...]


def _contact(row: Any) -> Contact:
    return Contact(
        contact_id=row["contact_id"],
        name=row["name"],
        email=row["email"],
        phone=row["phone"],
        aliases=tuple(row["aliases"] or ()),
    )


def list_contacts(conn: Connection, tenant_id: str, user_id: str) -> list[Contact]:
    """The caller's contacts, by name."""
    rows = conn.execute(
        select(CONTACTS)
        .where(CONTACTS.c.tenant_id == tenant_id, CONTACTS.c.user_id == user_id)
        .order_by(CONTACTS.c.name, CONTACTS.c.contact_id)
    ).mappings()
    return [_contact(r) for r in rows]


def get_contact(conn: Connection, tenant_id: str, user_id: str, contact_id: str) -> Contact:
    """One of the caller's contacts; :class:`NotFound` if it is not theirs or does not exist."""
    row = (
        conn.execute(
            select(CONTACTS).where(
                CONTACTS.c.tenant_id == tenant_id,
                CONTACTS.c.user_id == user_id,
                CONTACTS.c.contact_id == contact_id,
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"no contact '{contact_id}'")
    return _contact(row)


def clean_name(name: str) -> str:
    """A contact's name with outer and repeated spaces removed; refused if it has no letters."""
    cleaned = " ".join(name.split())
    if not any(c.isalnum() for c in cleaned):
        raise InvalidInput("a contact needs a name with letters or digits")
    if len(cleaned) > MAX_NAME_CHARS:
        raise InvalidInput(f"a name is at most {MAX_NAME_CHARS} characters")
    return cleaned


def clean_email(email: str) -> str:
    """The address in normalised form; :class:`InvalidInput` with the reason if it is not one."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidInput(f"'{email}' is not an email address: {exc}") from exc


def clean_phone(phone: str) -> str:
    """The number as written, if it looks like one (digits, spaces, + ( ) . - /, and an
    extension such as "x12" or "ext. 12")."""
    cleaned = " ".join(phone.split())
    if not _PHONE.match(cleaned) or sum(c.isdigit() for c in cleaned) < 3:
        raise InvalidInput(f"'{phone}' is not a phone number")
    return cleaned


def clean_aliases(aliases: Sequence[str]) -> tuple[str, ...]:
    """Nicknames without blanks or repeats, in the order given."""
    seen: dict[str, str] = {}
    for alias in aliases:
        cleaned = " ".join(alias.split())
        if not cleaned:
            continue
        if len(cleaned) > MAX_ALIAS_CHARS:
            raise InvalidInput(f"an alias is at most {MAX_ALIAS_CHARS} characters")
        seen.setdefault(cleaned.casefold(), cleaned)
    if len(seen) > MAX_ALIASES:
        raise InvalidInput(f"a contact has at most {MAX_ALIASES} aliases")
    return tuple(seen.values())


def _clean(draft: ContactDraft) -> ContactDraft:
    return ContactDraft(
        name=clean_name(draft.name),
        email=clean_email(draft.email) if draft.email and draft.email.strip() else None,
        phone=clean_phone(draft.phone) if draft.phone and draft.phone.strip() else None,
        aliases=clean_aliases(draft.aliases),
    )


def _by_email(conn: Connection, tenant_id: str, user_id: str, email: str) -> Contact | None:
    row = (
        conn.execute(
            select(CONTACTS)
            .where(
                CONTACTS.c.tenant_id == tenant_id,
                CONTACTS.c.user_id == user_id,
                func.lower(CONTACTS.c.email) == email.lower(),
            )
            .order_by(CONTACTS.c.created_at, CONTACTS.c.contact_id)
        )
        .mappings()
        .first()
    )
    return _contact(row) if row is not None else None


def _by_idempotency_key(conn: Connection, tenant_id: str, user_id: str, key: str) -> Contact | None:
    row = (
        conn.execute(
            select(CONTACTS).where(
                CONTACTS.c.tenant_id == tenant_id,
                CONTACTS.c.user_id == user_id,
                CONTACTS.c.idempotency_key == key,
            )
        )
        .mappings()
        .first()
    )
    return _contact(row) if row is not None else None


def _count(conn: Connection, tenant_id: str, user_id: str) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(CONTACTS)
            .where(CONTACTS.c.tenant_id == tenant_id, CONTACTS.c.user_id == user_id)
        ).scalar_one()
    )


def _insert(
    conn: Connection, tenant_id: str, user_id: str, draft: ContactDraft, key: str | None
) -> Contact:
    if _count(conn, tenant_id, user_id) >= MAX_CONTACTS:
        raise InvalidInput(f"an address book holds at most {MAX_CONTACTS} contacts")
    now = utcnow()
    contact_id = new_id("con")
    conn.execute(
        insert(CONTACTS).values(
            contact_id=contact_id,
            tenant_id=tenant_id,
            user_id=user_id,
            name=draft.name,
            email=draft.email,
            phone=draft.phone,
            aliases=list(draft.aliases),
            idempotency_key=key,
            created_at=now,
            updated_at=now,
        )
    )
    return Contact(contact_id, draft.name, draft.email, draft.phone, draft.aliases)


def create_contact(
    conn: Connection,
    tenant_id: str,
    user_id: str,
    draft: ContactDraft,
    idempotency_key: str | None = None,
) -> tuple[Contact, bool]:
    """Add a contact; returns it and whether it is new. Replaying ``idempotency_key`` with the
    same contact returns the stored one; a second contact with an address already in the book
    is a :class:`Conflict` (edit that one instead)."""
    clean = _clean(draft)
    if idempotency_key is not None:
        earlier = _replayed(conn, tenant_id, user_id, idempotency_key, clean)
        if earlier is not None:
            return earlier, False
    if clean.email is not None:
        same = _by_email(conn, tenant_id, user_id, clean.email)
        if same is not None:
            raise Conflict(f"{same.name} ({same.contact_id}) already has the address {clean.email}")
    try:
        with conn.begin_nested():
            return _insert(conn, tenant_id, user_id, clean, idempotency_key), True
    except IntegrityError:
        # A concurrent request with the same key inserted first: answer as its replay.
        if idempotency_key is None:
            raise
        earlier = _replayed(conn, tenant_id, user_id, idempotency_key, clean)
        if earlier is None:
            raise
        return earlier, False


def _replayed(
    conn: Connection, tenant_id: str, user_id: str, key: str, clean: ContactDraft
) -> Contact | None:
    """The contact an earlier request with this key created, if any; a :class:`Conflict` if
    that request described someone else."""
    earlier = _by_idempotency_key(conn, tenant_id, user_id, key)
    if earlier is not None and _as_draft(earlier) != clean:
        raise Conflict("this Idempotency-Key was used for another contact")
    return earlier


def _as_draft(contact: Contact) -> ContactDraft:
    return ContactDraft(contact.name, contact.email, contact.phone, contact.aliases)


def _write(conn: Connection, tenant_id: str, user_id: str, contact: Contact) -> None:
    conn.execute(
        update(CONTACTS)
        .where(
            CONTACTS.c.tenant_id == tenant_id,
            CONTACTS.c.user_id == user_id,
            CONTACTS.c.contact_id == contact.contact_id,
        )
        .values(
            name=contact.name,
            email=contact.email,
            phone=contact.phone,
            aliases=list(contact.aliases),
            updated_at=utcnow(),
        )
    )


def update_contact(
    conn: Connection, tenant_id: str, user_id: str, contact_id: str, changes: ContactChanges
) -> Contact:
    """Edit one of the caller's contacts."""
    current = get_contact(conn, tenant_id, user_id, contact_id)
    email = current.email
    if changes.clear_email:
        email = None
    elif changes.email is not None:
        email = clean_email(changes.email)
        same = _by_email(conn, tenant_id, user_id, email)
        if same is not None and same.contact_id != contact_id:
            raise Conflict(f"{same.name} ({same.contact_id}) already has the address {email}")
    phone = current.phone
    if changes.clear_phone:
        phone = None
    elif changes.phone is not None:
        phone = clean_phone(changes.phone)
    edited = Contact(
        contact_id=contact_id,
        name=clean_name(changes.name) if changes.name is not None else current.name,
        email=email,
        phone=phone,
        aliases=clean_aliases(changes.aliases) if changes.aliases is not None else current.aliases,
    )
    _write(conn, tenant_id, user_id, edited)
    return edited


def delete_contact(conn: Connection, tenant_id: str, user_id: str, contact_id: str) -> Contact:
    """Remove one of the caller's contacts; returns what was removed."""
    gone = get_contact(conn, tenant_id, user_id, contact_id)
    conn.execute(
        delete(CONTACTS).where(
            CONTACTS.c.tenant_id == tenant_id,
            CONTACTS.c.user_id == user_id,
            CONTACTS.c.contact_id == contact_id,
        )
    )
    return gone


def _same_person(existing: Sequence[Contact], draft: ContactDraft) -> Contact | None:
    """The stored contact an imported card describes: same address, or, for a card without one,
    the same name with no address (so importing a file twice does not double it)."""
    if draft.email is not None:
        wanted = draft.email.lower()
        return next((c for c in existing if (c.email or "").lower() == wanted), None)
    name = normalise(draft.name)
    return next((c for c in existing if c.email is None and normalise(c.name) == name), None)


def import_contacts(
    conn: Connection, tenant_id: str, user_id: str, drafts: Sequence[ContactDraft]
) -> ImportReport:
    """Add the contacts of an import; a card for someone already in the book updates them.

    All cards are validated before anything is written, so a bad card changes nothing."""
    cleaned = []
    for number, draft in enumerate(drafts, start=1):
        try:
            cleaned.append(_clean(draft))
        except InvalidInput as exc:
            raise InvalidInput(f"card {number} ({draft.name.strip()!r}): {exc.message}") from exc
    book = list_contacts(conn, tenant_id, user_id)
    created: dict[str, Contact] = {}
    updated: dict[str, Contact] = {}
    for draft in cleaned:
        match = _same_person(book, draft)
        if match is None:
            contact = _insert(conn, tenant_id, user_id, draft, None)
            created[contact.contact_id] = contact
            book.append(contact)
            continue
        merged = Contact(
            contact_id=match.contact_id,
            name=draft.name,
            email=draft.email or match.email,
            phone=draft.phone or match.phone,
            aliases=clean_aliases((*match.aliases, *draft.aliases)),
        )
        if merged != match:
            _write(conn, tenant_id, user_id, merged)
            book[book.index(match)] = merged
            (created if match.contact_id in created else updated)[match.contact_id] = merged
    return ImportReport(created=tuple(created.values()), updated=tuple(updated.values()))
