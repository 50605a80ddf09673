"""One-time codes: minting them, the salted digest the desk keeps instead of a code, and
finding a code in what a person typed."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import secrets

CODE_DIGITS = 6

# A six-digit code has a million values, so a fast salted hash would be reversed offline in
# moments by anyone who can read Redis. A slow key derivation makes that cost hours of CPU,
# far past the code's ten-minute life.
_ROUNDS = 100_000
_SCHEME = "pbkdf2-sha256"

# Six digits, optionally grouped ("123456", "123 456", "12-34-56"), not part of a longer
# number such as a phone number or a ticket id.
_CODE = re.compile(r"(?<!\d)(?<!\d[ -])\d(?:[ -]?\d){5}(?![ -]?\d)")


def mint_code() -> str:
    """A fresh code from the system's cryptographic random source."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def codes_in(text: str) -> list[str]:
    """Every distinct code-shaped run of digits in a message, separators removed, in order."""
    found = (re.sub(r"\D", "", match) for match in _CODE.findall(text))
    return list(dict.fromkeys(found))


def _derive(code: str, salt: bytes, rounds: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", code.encode(), salt, rounds)


async def digest_code(code: str) -> str:
    """A salted, slow digest of a code, self-describing: `scheme$rounds$salt$digest`."""
    salt = secrets.token_bytes(16)
    derived = await asyncio.to_thread(_derive, code, salt, _ROUNDS)
    return f"{_SCHEME}${_ROUNDS}${salt.hex()}${derived.hex()}"


async def code_matches(code: str, stored: str) -> bool:
    """Whether `code` is the one `stored` was made from; compared in constant time."""
    scheme, rounds, salt, expected = stored.split("$")
    if scheme != _SCHEME:
        raise ValueError(f"unknown code digest scheme {scheme!r}")
    derived = await asyncio.to_thread(_derive, code, bytes.fromhex(salt), int(rounds))
    return hmac.compare_digest(derived, bytes.fromhex(expected))
