"""/contacts: the caller's address book — list, add, read, edit, delete, import vCards — and
/me/preferences: the caller's time zone."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Response
from pydantic import BaseModel, ConfigDict, Field

from core.api.deps import IdentityDep, RuntimeDep
from core.contacts import preferences
from core.contacts.service import (
    MAX_ALIAS_CHARS,
    MAX_ALIASES,
    MAX_NAME_CHARS,
    MAX_PHONE_CHARS,
    Contact,
    ContactChanges,
    ContactDraft,
    create_contact,
    delete_contact,
    get_contact,
    import_contacts,
    list_contacts,
    update_contact,
)
from core.contacts.vcard import VCardError, parse_vcards
from core.errors import BatonError

router = APIRouter(tags=["contacts"])
VCARD_TYPES = ("text/vcard", "text/x-vcard", "text/directory")
Alias = Annotated[str, Field(max_length=MAX_ALIAS_CHARS)]


class ContactOut(BaseModel):
    """A contact as its owner sees it."""

    contact_id: str
    name: str
    email: str | None = None
    phone: str | None = None
    aliases: list[str] = Field(default_factory=list)

    @classmethod
    def of(cls, contact: Contact) -> ContactOut:
        """From the service's contact."""
        return cls(
            contact_id=contact.contact_id,
            name=contact.name,
            email=contact.email,
            phone=contact.phone,
            aliases=list(contact.aliases),
        )


class ContactIn(BaseModel):
    """A new contact: a name, and any of email, phone and nicknames."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=MAX_PHONE_CHARS)
    aliases: list[Alias] = Field(default_factory=list, max_length=MAX_ALIASES)


class ContactEdit(BaseModel):
    """A correction: the fields given change; ``email: null`` / ``phone: null`` remove them."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME_CHARS)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=MAX_PHONE_CHARS)
    aliases: list[Alias] | None = Field(default=None, max_length=MAX_ALIASES)


class ImportOut(BaseModel):
    """What an import did: new contacts, and existing ones (same email) it updated."""

    created: list[ContactOut]
    updated: list[ContactOut]


class Deleted(BaseModel):
    """A deletion receipt."""

    contact_id: str
    name: str
    deleted: bool = True


class PreferencesOut(BaseModel):
    """The caller's preferences; ``timezone_is_default`` when they never chose a zone."""

    timezone: str
    timezone_is_default: bool


class PreferencesIn(BaseModel):
    """An IANA time zone name ("Europe/Paris"), or null to fall back to the default."""

    model_config = ConfigDict(extra="forbid")

    timezone: str | None = Field(max_length=64)


class UnsupportedMediaType(BatonError):
    """The body is not in a format this operation reads."""

    status = 415
    code = "unsupported_media_type"


@router.get("/contacts", response_model=list[ContactOut])
def list_all(who: IdentityDep, rt: RuntimeDep) -> list[ContactOut]:
    """Your contacts, by name."""
    with rt.engine.connect() as conn:
        return [ContactOut.of(c) for c in list_contacts(conn, who.tenant_id, who.user_id)]


@router.post(
    "/contacts",
    response_model=ContactOut,
    status_code=201,
    responses={200: {"model": ContactOut, "description": "A replayed Idempotency-Key"}},
)
def add(
    body: ContactIn,
    who: IdentityDep,
    rt: RuntimeDep,
    response: Response,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)
    ] = None,
) -> ContactOut:
    """Add a contact. An email already in your book is a 409 (edit that contact instead);
    replaying the same Idempotency-Key returns the contact it created."""
    draft = ContactDraft(body.name, body.email, body.phone, tuple(body.aliases))
    with rt.engine.begin() as conn:
        contact, created = create_contact(
            conn, who.tenant_id, who.user_id, draft, idempotency_key=idempotency_key
        )
    if not created:
        response.status_code = 200
    return ContactOut.of(contact)


@router.post("/contacts/import", response_model=ImportOut)
def import_vcard(
    body: Annotated[bytes, Body(media_type="text/vcard")],
    who: IdentityDep,
    rt: RuntimeDep,
    content_type: Annotated[str | None, Header()] = None,
) -> ImportOut:
    """Import a vCard file (Content-Type: text/vcard). A card whose email is already in your
    book updates that contact; the others are added. A bad card changes nothing."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media not in VCARD_TYPES:
        raise UnsupportedMediaType("send the vCard file as the body with Content-Type: text/vcard")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise VCardError("the vCard file is not valid UTF-8") from exc
    if "\x00" in text:
        raise VCardError("the vCard file contains NUL characters")
    drafts = parse_vcards(text)
    with rt.engine.begin() as conn:
        report = import_contacts(conn, who.tenant_id, who.user_id, drafts)
    return ImportOut(
        created=[ContactOut.of(c) for c in report.created],
        updated=[ContactOut.of(c) for c in report.updated],
    )


@router.get("/contacts/{contact_id}", response_model=ContactOut)
def get_one(contact_id: str, who: IdentityDep, rt: RuntimeDep) -> ContactOut:
    """One of your contacts."""
    with rt.engine.connect() as conn:
        return ContactOut.of(get_contact(conn, who.tenant_id, who.user_id, contact_id))


@router.patch("/contacts/{contact_id}", response_model=ContactOut)
def edit(contact_id: str, body: ContactEdit, who: IdentityDep, rt: RuntimeDep) -> ContactOut:
    """Correct one of your contacts."""
    given = body.model_fields_set
    changes = ContactChanges(
        name=body.name,
        email=body.email,
        phone=body.phone,
        aliases=tuple(body.aliases) if body.aliases is not None else None,
        clear_email="email" in given and body.email is None,
        clear_phone="phone" in given and body.phone is None,
    )
    with rt.engine.begin() as conn:
        return ContactOut.of(update_contact(conn, who.tenant_id, who.user_id, contact_id, changes))


@router.delete("/contacts/{contact_id}", response_model=Deleted)
def remove(contact_id: str, who: IdentityDep, rt: RuntimeDep) -> Deleted:
    """Delete one of your contacts."""
    with rt.engine.begin() as conn:
        gone = delete_contact(conn, who.tenant_id, who.user_id, contact_id)
    return Deleted(contact_id=gone.contact_id, name=gone.name)


def _preferences(stored: str | None, default: str) -> PreferencesOut:
    return PreferencesOut(timezone=stored or default, timezone_is_default=stored is None)


@router.get("/me/preferences", response_model=PreferencesOut)
def get_preferences(who: IdentityDep, rt: RuntimeDep) -> PreferencesOut:
    """Your preferences: the time zone your dates and times are understood in."""
    with rt.engine.connect() as conn:
        stored = preferences.stored_timezone(conn, who.tenant_id, who.user_id)
    return _preferences(stored, rt.settings.calendar_timezone)


@router.put("/me/preferences", response_model=PreferencesOut)
def put_preferences(body: PreferencesIn, who: IdentityDep, rt: RuntimeDep) -> PreferencesOut:
    """Set your time zone (an IANA name such as "Europe/Paris"; 422 with the reason if it is
    not one), or null to use the server's default."""
    with rt.engine.begin() as conn:
        stored = preferences.set_user_timezone(conn, who.tenant_id, who.user_id, body.timezone)
    return _preferences(stored, rt.settings.calendar_timezone)
