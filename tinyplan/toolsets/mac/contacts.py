"""Contacts: reading vCard files (with vobject) and matching a spoken name to a contact."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import vobject

from tinyplan.toolsets.mac._errors import ContactNotFoundError, ToolInputError

__all__ = ["Contact", "contact_key", "contact_with_value", "load_vcards", "match_contact"]


@dataclass(frozen=True, slots=True)
class Contact:
    """One person: the full name and their email addresses and phone numbers in file order."""

    name: str
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()


def _values(card: Any, key: str) -> tuple[str, ...]:
    found = card.contents.get(key, [])
    return tuple(str(item.value).strip() for item in found if str(item.value).strip())


def _card_name(card: Any) -> str:
    if "fn" in card.contents:
        return str(card.fn.value).strip()
    if "n" in card.contents:
        n = card.n.value
        return " ".join(p for p in (str(n.given), str(n.family)) if p).strip()
    return ""


def load_vcards(paths: Iterable[Path]) -> list[Contact]:
    """Read every vCard in the given ``.vcf`` files (a file may hold several cards).

    Raises:
        ToolInputError: A file is not valid vCard (the file is named).
    """
    contacts: list[Contact] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
            cards = list(vobject.readComponents(text))
        except (OSError, UnicodeDecodeError, vobject.base.ParseError) as exc:
            raise ToolInputError(f"cannot read contacts file {path}: {exc}") from None
        for card in cards:
            name = _card_name(card)
            if name:
                contacts.append(Contact(name, _values(card, "email"), _values(card, "tel")))
    return contacts


def _fold(text: str) -> str:
    """Case- and accent-insensitive form: ``"Erdoğan"`` and ``"erdogan"`` fold alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def match_contact(query: str, contacts: Sequence[Contact]) -> Contact:
    """The contact a name refers to.

    Tried in order: the full name (ignoring case and accents); contacts whose name has every word of the query as
    a word (``"Lutfi"``, ``"Lutfi Erdogan"`` → ``"Lutfi Eren Erdogan"``); as a word prefix (``"Sid"`` →
    ``"Siddharth Jha"``); then a close spelling (difflib ratio ≥ 0.8). TinyAgent's Contacts tool instead takes the
    first person whose first name contains the query's first word.

    Raises:
        ContactNotFoundError: No contact matches, or several match equally (their names are listed).
    """
    wanted = _fold(query)
    if not wanted:
        raise ContactNotFoundError("an empty name matches no contact")
    folded = [(_fold(c.name), c) for c in contacts]
    exact = [c for f, c in folded if f == wanted]
    if exact:
        return exact[0]
    words = wanted.split()
    rules: list[Callable[[list[str]], bool]] = [
        lambda name_words: all(w in name_words for w in words),
        lambda name_words: all(any(nw.startswith(w) for nw in name_words) for w in words),
    ]
    for rule in rules:
        found = [c for f, c in folded if rule(f.split())]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = ", ".join(c.name for c in found)
            raise ContactNotFoundError(f"several contacts match {query!r}: {names}; use the full name")
    close = difflib.get_close_matches(wanted, [f for f, _ in folded], n=1, cutoff=0.8)
    if close:
        return next(c for f, c in folded if f == close[0])
    raise ContactNotFoundError(f"no contact matches {query!r}")


_NOT_DIGIT = re.compile(r"\D")


def contact_key(value: str) -> str:
    """A phone number or email address in a form to compare: an address casefolded, a number's digits only."""
    text = value.strip()
    if "@" in text:
        return text.casefold()
    digits = _NOT_DIGIT.sub("", text)
    return digits if len(digits) >= 3 else text.casefold()


def _same_value(a: str, b: str) -> bool:
    if a == b:
        return True
    # "+1 510 555 0101" and "(510) 555-0101": the same number with and without the country code
    return a.isdigit() and b.isdigit() and min(len(a), len(b)) >= 7 and (a.endswith(b) or b.endswith(a))


def contact_with_value(value: str, contacts: Sequence[Contact]) -> Contact | None:
    """The one contact that has this phone number or email address (numbers compare by digits); None if none or many.

    A number matches with or without its country code (the shorter one's last 7 or more digits).
    """
    key = contact_key(value)
    if not key:
        return None
    found = [c for c in contacts if any(_same_value(key, contact_key(v)) for v in (*c.emails, *c.phones))]
    return found[0] if len(found) == 1 else None
