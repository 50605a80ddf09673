"""Okta's user, factor and group objects read as the desk's words: pure functions over the JSON
the Management API answers.

A person's desk username is the local part of their Okta login (`profile.login`
"ana.silva@example.com" is "ana.silva"), compared whatever its case; an org whose logins
share a local part across domains has those people ambiguous, and they are not found."""

from __future__ import annotations

from typing import Any

from bot.masking import mask_email, mask_phone
from bot.models import FactorKind
from bot.ports import ContactPoints, Master

Json = dict[str, Any]

LOCKED = frozenset({"LOCKED_OUT"})
DISABLED = frozenset({"SUSPENDED", "DEPROVISIONED"})
# credentials.provider.type -> who masters the account (FEDERATION, SOCIAL, IMPORT: Okta
# holds the account itself, whoever signs the person in)
MASTERS: dict[str, Master] = {"ACTIVE_DIRECTORY": "ad", "LDAP": "ldap"}
# Okta's factorType -> the desk's factor kind (call, question, webauthn... are not the desk's)
FACTOR_KINDS: dict[str, FactorKind] = {
    "push": "push", "sms": "sms", "email": "email", "token:software:totp": "totp",
}  # fmt: skip
BUILT_IN = "BUILT_IN"  # the Everyone group: not a membership anyone asked for
APP_GROUP = "APP_GROUP"  # imported from AD or an app: its memberships are changed there


def username_of(login: str) -> str:
    """The desk username of an Okta login: its local part."""
    return login.partition("@")[0]


def same_username(login: str, username: str) -> bool:
    return username_of(login).casefold() == username.strip().casefold()


def profile(user: Json) -> Json:
    found = user.get("profile")
    return found if isinstance(found, dict) else {}


def login_of(user: Json) -> str:
    return str(profile(user).get("login") or "")


def name_of(user: Json) -> str:
    p = profile(user)
    if p.get("displayName"):
        return str(p["displayName"])
    parts = [str(p[k]) for k in ("firstName", "lastName") if p.get(k)]
    return " ".join(parts) or username_of(login_of(user))


def master_of(user: Json) -> Master:
    credentials = user.get("credentials")
    provider = credentials.get("provider") if isinstance(credentials, dict) else None
    kind = provider.get("type") if isinstance(provider, dict) else None
    return MASTERS.get(str(kind or "OKTA"), "okta")


def contact_points(user: Json) -> ContactPoints:
    p = profile(user)
    return ContactPoints(
        email=str(p.get("email") or ""),
        secondary_email=str(p["secondEmail"]) if p.get("secondEmail") else None,
        mobile=str(p["mobilePhone"]) if p.get("mobilePhone") else None,
    )


def active_factors(factors: list[Json]) -> dict[FactorKind, Json]:
    """The person's active factors the desk knows, by kind, in the order Okta lists them
    (the first of a kind enrolled twice)."""
    found: dict[FactorKind, Json] = {}
    for factor in factors:
        kind = FACTOR_KINDS.get(str(factor.get("factorType")))
        if kind is not None and factor.get("status") == "ACTIVE" and kind not in found:
            found[kind] = factor
    return found


def factor_address(kind: FactorKind, factor: Json) -> str | None:
    """Where a check on the factor goes, masked for chat: the phone of an SMS factor, the
    address of an e-mail factor, the device of an Okta Verify push."""
    p = factor.get("profile")
    p = p if isinstance(p, dict) else {}
    if kind == "sms":
        return mask_phone(str(p["phoneNumber"])) if p.get("phoneNumber") else None
    if kind == "email":
        return mask_email(str(p["email"])) if p.get("email") else None
    if kind == "push":
        device = str(p.get("name") or "").strip()
        return f"Okta Verify on {device}" if device else "Okta Verify"
    return "your authenticator app"


def group_name(group: Json) -> str:
    p = group.get("profile")
    return str(p.get("name") or "") if isinstance(p, dict) else ""


def quoted(value: str) -> str:
    """A value inside a search or filter expression's double quotes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
