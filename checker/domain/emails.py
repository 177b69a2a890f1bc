"""How an email address is written and matched, decided once for the schema, comparison,
import and adoption.

Internationalised domains (IDN) may be written either way: ``ann@bücher.example`` or its
punycode form ``ann@xn--bcher-kva.example``. The schema accepts both (the domain must be valid
under IDNA / UTS #46), files keep whichever form their author or Zendesk used, and addresses are
compared by :func:`canonical`: trimmed, lower-cased, the domain in its ASCII (punycode) form. So
the two forms of one address are equal, an import or adoption writes what Zendesk holds (which
validates), and nothing drifts only because of the spelling of a domain.
"""

from __future__ import annotations

import functools

import idna

__all__ = ["ascii_domain", "canonical"]


@functools.lru_cache(maxsize=4096)
def ascii_domain(domain: str) -> str | None:
    """The domain's ASCII form (punycode for Unicode labels), lower case; None when it is not a
    valid domain name."""
    text = domain.strip().rstrip(".")
    if not text:
        return None
    if text.isascii():
        return text.lower()
    try:
        return idna.encode(text, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError):
        return None


def canonical(email: str) -> str:
    """The form emails are compared in: trimmed, lower case, the domain in ASCII."""
    text = email.strip().lower()
    local, at, domain = text.rpartition("@")
    if not at:
        return text
    ascii_form = ascii_domain(domain)
    return f"{local}@{ascii_form}" if ascii_form is not None else text
