"""Passwords and links for an Entra account, as `ITDESK_ENTRA_PASSWORD_RESET` says:

- `sspr`: the person is e-mailed the organisation's self-service password reset portal
  (`ITDESK_ENTRA_SSPR_URL`), where Entra checks them itself;
- `temporary`: the desk sets a strong random temporary password (to be changed at the next
  sign-in) and e-mails it; it is never returned, logged or kept.

Either goes to the first address on record in `ITDESK_EMAIL_CODE_ORDER`, once per request
key (the key's `LinkSent` is kept in Redis, so a retry after a lost answer sends nothing
again). An enrolment link is the My Sign-ins security-info page, by e-mail the same way.
A write Graph refuses because the account is mastered on-premises is `Unsupported`."""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Iterable
from datetime import timedelta
from typing import Any, Literal

from adapters.entra.graph import Graph, GraphError
from adapters.mail.contacts import address_order, first_address
from adapters.mail.message import Mail, Mailer
from bot.masking import mask_email
from bot.ports import ContactPoints, LinkSent, NotFoundError, Unsupported
from bot.store import Store

Json = dict[str, Any]
LinkKind = Literal["reset_link", "enrolment_link"]
SECURITY_INFO_URL = "https://mysignins.microsoft.com/security-info"
KEPT = timedelta(days=30)  # as long as the desk keeps a request's idempotency key
ON_PREMISES = ("the account is mastered in the on-premises Active Directory: Entra Connect "
               "syncs it, so this is changed there")  # fmt: skip
TEMPORARY_LENGTH = 20
_SYMBOLS = "!#$%*+-=?@^_"


def temporary_password() -> str:
    """A random password every Entra policy takes: upper, lower, digit and symbol."""
    alphabet = string.ascii_letters + string.digits + _SYMBOLS
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(TEMPORARY_LENGTH))
        if all(
            any(c in group for c in password)
            for group in (string.ascii_lowercase, string.ascii_uppercase, string.digits, _SYMBOLS)
        ):
            return password  # fmt: skip


def mastered_on_premises(error: GraphError) -> bool:
    return "on-premises mastered" in error.message.lower()


async def patch_user(graph: Graph, user: Json, body: Json, capability: str) -> None:
    """PATCH the user; Graph's refusal of a synced account's property is `Unsupported`."""
    try:
        await graph.call("PATCH", f"/users/{user['id']}", json=body)
    except GraphError as exc:
        if mastered_on_premises(exc):
            raise Unsupported(capability, ON_PREMISES) from None
        raise


async def set_password(graph: Graph, user: Json, password: str, *, must_change: bool) -> None:
    """Set the password; one the tenant's policy refuses is a `ValueError` with Graph's
    reason (never the password)."""
    profile = {"password": password, "forceChangePasswordNextSignIn": must_change}
    try:
        await patch_user(graph, user, {"passwordProfile": profile}, "set_password")
    except GraphError as exc:
        if exc.status == 400 and "password" in exc.message.lower():
            reason = exc.message if password not in exc.message else "the password was refused"
            raise ValueError(reason) from None
        raise


class ResetMail:
    """Sends reset and enrolment mail for Entra accounts through `mailer`."""

    def __init__(
        self,
        graph: Graph,
        mailer: Mailer | None,
        store: Store | None,
        *,
        mode: Literal["sspr", "temporary"],
        sspr_url: str,
        order: Iterable[str],
    ) -> None:
        self._graph = graph
        self._mailer = mailer
        self._store = store.child("entra-links") if store is not None else None
        self._mode = mode
        self._sspr_url = sspr_url
        self._order = address_order(order)

    def address(self, points: ContactPoints) -> str | None:
        return first_address(points, self._order)

    async def send(
        self, user: Json, points: ContactPoints, kind: LinkKind, key: str | None
    ) -> LinkSent:
        capability = kind
        if self._mailer is None:
            raise Unsupported(capability, "no mail server is configured (ITDESK_SMTP_URL)")
        kept = self._store.key(kind, _digest(str(user["id"]), key)) if key and self._store else None
        if kept is not None and self._store is not None:
            sent = await self._store.redis.get(kept)
            if sent is not None:
                return LinkSent.model_validate_json(sent)
        to = self.address(points)
        if to is None:
            raise NotFoundError("email", str(user["id"]))
        body = await self._body(user, kind)
        mail_key = key or f"{kind}:{user['id']}"
        if kind == "reset_link" and self._mode == "temporary":
            # each password is a message of its own: a mailbox that drops a Message-ID it has
            # seen must not keep only an earlier, no longer valid password
            mail_key = f"{mail_key}:{secrets.token_hex(4)}"
        await self._mailer.send(Mail(to, _SUBJECTS[kind], body, mail_key))
        receipt = LinkSent(address=mask_email(to))
        if kept is not None and self._store is not None:
            await self._store.redis.set(kept, receipt.model_dump_json(), ex=KEPT)
        return receipt

    async def _body(self, user: Json, kind: LinkKind) -> str:
        if kind == "enrolment_link":
            return ("Your sign-in verification methods were reset. Register a new one at "
                    f"{SECURITY_INFO_URL} the next time you sign in.")  # fmt: skip
        if self._mode == "sspr":
            return (
                "You asked the IT desk to reset your password. Reset it yourself at "
                f"{self._sspr_url} : it checks it is you, then lets you choose a new one."
            )
        password = temporary_password()
        try:
            await set_password(self._graph, user, password, must_change=True)
        except Unsupported as exc:
            raise Unsupported("reset_link", exc.detail) from None
        return (
            "You asked the IT desk to reset your password. Sign in with this temporary "
            f"password; you will be asked to choose your own at once:\n\n{password}"
        )


_SUBJECTS: dict[LinkKind, str] = {
    "reset_link": "Reset your password",
    "enrolment_link": "Set up sign-in verification",
}


def _digest(user_id: str, key: str) -> str:
    return hashlib.sha256(f"{user_id}\n{key}".encode()).hexdigest()[:32]
