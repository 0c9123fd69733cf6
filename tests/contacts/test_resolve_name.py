"""Resolving a name said in a command to a contact: exact, partial, nickname, possessive and
misheard names resolve; two people answering to the name are ambiguous; a weak match is unknown."""

from __future__ import annotations

import pytest

from core.contacts.service import Contact, NameMatch, resolve_name


def person(contact_id: str, name: str, *aliases: str, email: str | None = None) -> Contact:
    return Contact(contact_id, name, email or f"{contact_id}@example.com", None, aliases)


BOOK = [
    person("alice_s", "Alice Smith"),
    person("alice_w", "Alice Wong"),
    person("bob", "Robert Jones", "Bob", "Bobby"),
    person("cath", "Catherine Zeta"),
    person("sean", "Sean Murphy"),
    person("tim", "Tim Cook"),
    person("maria", "María José García"),
    person("ozzy", "Oliver O'Brien", "Ozzy"),
    person("dave", "David MacDonald"),
    person("kai", "Kaitlyn Brooks"),
    person("jon", "Jon Snow"),
    person("john", "John Baker"),
    person("phil", "Philip Meyer"),
    person("nguyen", "Linh Nguyen"),
    person("aaron", "Peter Aaron"),
    person("mei", "Mei-Ling Chow"),
]


def resolve(spoken: str, book: list[Contact] = BOOK) -> tuple[NameMatch, list[str]]:
    found = resolve_name(book, spoken)
    assert found.spoken == spoken
    return found.status, [c.contact_id for c in found.candidates]


@pytest.mark.parametrize(
    ("spoken", "contact_id"),
    [
        # full names, any case and punctuation
        ("Alice Smith", "alice_s"),
        ("alice smith", "alice_s"),
        ("ALICE SMITH.", "alice_s"),
        ("  Alice   Smith ", "alice_s"),
        # first or last name alone when only one person has it
        ("Catherine", "cath"),
        ("Zeta", "cath"),
        ("Wong", "alice_w"),
        ("Murphy", "sean"),
        ("Nguyen", "nguyen"),
        # aliases and well-known nicknames
        ("Bob", "bob"),
        ("Bobby", "bob"),
        ("Bob Jones", "bob"),
        ("Ozzy", "ozzy"),
        ("Rob Jones", "bob"),
        ("Dave", "dave"),
        ("Phil", "phil"),
        ("Cathy", "cath"),
        # possessives
        ("Alice Smith's", "alice_s"),
        ("Bob's", "bob"),
        ("Oliver O'Brien's", "ozzy"),
        ("O'Brien", "ozzy"),
        ("obrien", "ozzy"),
        ("Wong\u2019s", "alice_w"),
        # titles
        ("Dr. Jones", "bob"),
        ("Mrs Smith", "alice_s"),
        # accents, hyphens, compound names
        ("Maria Garcia", "maria"),
        ("Maria Jose Garcia", "maria"),
        ("Garcia", "maria"),
        ("Mei Ling Chow", "mei"),
        ("Mei-Ling", "mei"),
        ("Mac Donald", "dave"),
        ("David McDonald", "dave"),
        ("Mc Donald", "dave"),
        ("O Brien", "ozzy"),
        # speech-recognition slips: same sound, other spelling, or a near-miss
        ("Katherine", "cath"),
        ("Kathryn Zeta", "cath"),
        ("Shawn", "sean"),
        ("Shaun Murphy", "sean"),
        ("Bob Jons", "bob"),
        ("Alice Smyth", "alice_s"),
        ("Caitlin", "kai"),
        ("Katelyn Brooks", "kai"),
        ("Phillip", "phil"),
        ("Tim Cooke", "tim"),
        ("Jon Snow", "jon"),
        ("John Baker", "john"),
        ("Baker", "john"),
        # an initial for the last name
        ("Alice S.", "alice_s"),
        ("Alice W", "alice_w"),
    ],
)
def test_names_that_clearly_mean_one_contact_resolve_to_it(spoken, contact_id):
    assert resolve(spoken) == (NameMatch.UNIQUE, [contact_id])


@pytest.mark.parametrize(
    ("spoken", "contact_ids"),
    [
        # two Alices: ask which, best first then by name
        ("Alice", ["alice_s", "alice_w"]),
        ("alice's", ["alice_s", "alice_w"]),
        ("Alis", ["alice_s", "alice_w"]),
        ("Allis", ["alice_s", "alice_w"]),
        # "John" and "Jon" sound the same: the spelling a recogniser chose decides nothing
        ("John", ["john", "jon"]),
        ("Jon", ["jon", "john"]),
    ],
)
def test_names_several_contacts_answer_to_are_ambiguous(spoken, contact_ids):
    assert resolve(spoken) == (NameMatch.AMBIGUOUS, contact_ids)


@pytest.mark.parametrize(
    "spoken",
    [
        "Zoe",
        "Tom",  # not Tim: a different name, not a slip
        "Carol",
        "Alicia",
        "Liz",  # a nickname of Elizabeth; nobody here is called Elizabeth
        "Smithers",
        "Xavier Jones-Worthington",
        "Alice Xu",  # someone else called Alice
        "Alice Wang",  # Wang is a surname of its own, not a slip of Wong
        "Karen",  # sounds like "Aaron", but another name
        "Patrick",  # the nickname data set lists Peter under Patrick: not a nickname of Peter
        "Al",
        "A",
        "A. S.",
        "",
        "   ",
        "'s",
        "...",
        "Dr.",
        "the",
        "my accountant",
        "x" * 500,
    ],
)
def test_weak_matches_and_non_names_are_unknown(spoken):
    assert resolve(spoken) == (NameMatch.UNKNOWN, [])


def test_an_exact_name_wins_over_a_similar_one():
    book = [person("carl", "Carl Berg"), person("carol", "Carol Berg")]
    assert resolve("Carl", book) == (NameMatch.UNIQUE, ["carl"])
    assert resolve("Carol", book) == (NameMatch.UNIQUE, ["carol"])
    assert resolve("Berg", book) == (NameMatch.AMBIGUOUS, ["carl", "carol"])


def test_a_users_own_alias_beats_a_dictionary_nickname():
    book = [person("bob_s", "Bob Stone"), person("rob", "Robert Lane")]
    assert resolve("Bob", book) == (NameMatch.UNIQUE, ["bob_s"])
    assert resolve("Robert", book) == (NameMatch.UNIQUE, ["rob"])


def test_a_slip_resolves_only_while_nobody_matches_better():
    alone = [person("alice_s", "Alice Smith")]
    assert resolve("Alis", alone) == (NameMatch.UNIQUE, ["alice_s"])
    assert resolve("Alis Smith", alone) == (NameMatch.UNIQUE, ["alice_s"])
    with_alison = [*alone, person("alison", "Alison Hart")]
    assert resolve("Alison", with_alison) == (NameMatch.UNIQUE, ["alison"])
    assert resolve("Alice", with_alison) == (NameMatch.UNIQUE, ["alice_s"])


def test_same_named_contacts_are_both_candidates():
    book = [person("a1", "Sam Lee"), person("a2", "Sam Lee", email="sam@other.example")]
    assert resolve("Sam Lee", book) == (NameMatch.AMBIGUOUS, ["a1", "a2"])


def test_an_empty_address_book_knows_nobody():
    assert resolve("Alice", []) == (NameMatch.UNKNOWN, [])


def test_names_in_other_scripts_resolve():
    book = [person("wei", "王伟"), person("dima", "Дмитрий Иванов"), person("zoe", "Zoë Adams")]
    assert resolve("王伟", book) == (NameMatch.UNIQUE, ["wei"])
    assert resolve("Дмитрий", book) == (NameMatch.UNIQUE, ["dima"])
    assert resolve("иванов", book) == (NameMatch.UNIQUE, ["dima"])
    assert resolve("Zoe", book) == (NameMatch.UNIQUE, ["zoe"])
