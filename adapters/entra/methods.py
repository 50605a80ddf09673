"""A person's registered authentication methods (`/users/{id}/authentication/methods`) as the
desk's factors: Microsoft Authenticator is a push, a phone an SMS, a software OATH token a
TOTP code, an e-mail method a code by e-mail. Each method type is deleted at its own
endpoint; the password method is never deleted (it is how the person signs in at all)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.masking import mask_email, mask_phone
from bot.models import FactorKind
from bot.ports import ContactPoints

Json = dict[str, Any]
PASSWORD = "#microsoft.graph.passwordAuthenticationMethod"

# @odata.type -> (the desk's factor, or None for one the desk cannot use; the collection the
# method is deleted from under /users/{id}/authentication/)
TYPES: dict[str, tuple[FactorKind | None, str]] = {
    "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod":
        ("push", "microsoftAuthenticatorMethods"),
    "#microsoft.graph.phoneAuthenticationMethod": ("sms", "phoneMethods"),
    "#microsoft.graph.softwareOathAuthenticationMethod": ("totp", "softwareOathMethods"),
    "#microsoft.graph.emailAuthenticationMethod": ("email", "emailMethods"),
    "#microsoft.graph.fido2AuthenticationMethod": (None, "fido2Methods"),
    "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod":
        (None, "windowsHelloForBusinessMethods"),
    "#microsoft.graph.temporaryAccessPassAuthenticationMethod":
        (None, "temporaryAccessPassMethods"),
    "#microsoft.graph.platformCredentialAuthenticationMethod": (None, "platformCredentialMethods"),
}  # fmt: skip


@dataclass(frozen=True)
class Method:
    """One registered method: its id, type and the factor it is (if any)."""

    id: str
    odata_type: str
    data: Json

    @property
    def factor(self) -> FactorKind | None:
        return TYPES.get(self.odata_type, (None, ""))[0]

    @property
    def collection(self) -> str | None:
        known = TYPES.get(self.odata_type)
        return known[1] if known else None

    def address(self) -> str | None:
        """Where a check on it goes, masked for chat."""
        if self.factor == "sms":
            number = self.data.get("phoneNumber")
            return mask_phone(str(number)) if number else None
        if self.factor == "email":
            address = self.data.get("emailAddress")
            return mask_email(str(address)) if address else None
        if self.factor == "push":
            return "Microsoft Authenticator" + _on(self.data.get("displayName"))
        if self.factor == "totp":
            return "your authenticator app"
        return None


def _on(device: object) -> str:
    return f" on {device}" if isinstance(device, str) and device else ""


def methods_of(items: list[Json]) -> list[Method]:
    """Every method but the password, in Graph's order."""
    return [
        Method(str(m.get("id", "")), str(m.get("@odata.type", "")), m)
        for m in items
        if m.get("@odata.type") != PASSWORD
    ]


def factors_of(methods: list[Method]) -> tuple[FactorKind, ...]:
    """The desk's factors among the methods, each once, in the order first registered."""
    found: list[FactorKind] = []
    for method in methods:
        if method.factor is not None and method.factor not in found:
            found.append(method.factor)
    return tuple(found)


def sms_method(methods: list[Method]) -> Method | None:
    """The phone an SMS goes to: the mobile, or else any phone that takes texts."""
    phones = [m for m in methods if m.factor == "sms"]
    mobile = [m for m in phones if m.data.get("phoneType") == "mobile"]
    return next(iter(mobile or phones), None)


def first_of(methods: list[Method], factor: FactorKind) -> Method | None:
    if factor == "sms":
        return sms_method(methods)
    return next((m for m in methods if m.factor == factor), None)


def contact_points(user: Json, methods: list[Method]) -> ContactPoints:
    """The mailbox, the e-mail method's address (or else the first of `otherMails`) and the
    phone that takes texts (or else `mobilePhone`)."""
    email_method, phone = first_of(methods, "email"), first_of(methods, "sms")
    others = [str(m) for m in user.get("otherMails") or [] if m]
    secondary = email_method.data.get("emailAddress") if email_method else None
    mobile = phone.data.get("phoneNumber") if phone else user.get("mobilePhone")
    return ContactPoints(
        email=str(user.get("mail") or user.get("userPrincipalName") or ""),
        secondary_email=secondary or (others[0] if others else None),
        mobile=mobile or None,
    )
