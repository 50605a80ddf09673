"""Masked contact details: enough for a person to recognise where a code or link went, not
enough to learn a phone number or address from a chat message."""

from __future__ import annotations

DOT = "\u2022"  # •


def mask_phone(phone: str) -> str:
    """`+44 7700 900123` -> `+44 •••• ••23`: the country code and the last two digits."""
    digits = [c for c in phone if c.isdigit()]
    tail = "".join(digits[-2:]) if len(digits) > 4 else ""
    tokens = phone.split()
    # a country code written apart ("+44 ...") is kept; it says which phone, not which number
    head = (
        tokens[0] if len(tokens) > 1 and tokens[0].startswith("+") and len(tokens[0]) <= 4 else ""
    )
    masked = f"{DOT * 4} {DOT * 2}{tail}"
    return f"{head} {masked}" if head else masked


def mask_email(address: str) -> str:
    """`alice@globex.test` -> `a•••@globex.test`: the first letter and the domain."""
    local, at, domain = address.strip().partition("@")
    if not at or not local or not domain:
        return DOT * 3
    return f"{local[0]}{DOT * 3}@{domain}"
