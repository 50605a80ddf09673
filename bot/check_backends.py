"""The sign-in check providers ITDESK_CHECKS names, in its order, as the desk's one `Checks`:
Okta Verify (built with the Okta directory), Duo Push, SMS codes through a Twilio-compatible
Verify API, and codes by e-mail to an address on record. Unset, a real organisation's
checks are e-mailed codes."""

from __future__ import annotations

from collections.abc import Iterable

from adapters.checks.chain import CheckChain
from adapters.checks.duo import DuoChecks
from adapters.checks.duo_api import DuoApi
from adapters.checks.email import EmailChecks
from adapters.checks.twilio_api import VerifyApi
from adapters.checks.twilio_verify import TwilioVerifyChecks
from adapters.mail.message import Mailer
from bot.clock import Clock
from bot.ports import Checks, Contacts, Directory
from bot.settings import Settings
from bot.store import Store

DEFAULT_PROVIDERS = ("email",)


def check_providers(
    settings: Settings,
    store: Store,
    clock: Clock,
    directory: Directory,
    contacts: Contacts,
    mailer: Mailer,
    *,
    okta_verify: Checks | None = None,
    order: Iterable[str] = (),
) -> Checks:
    """The chain of providers (one provider alone is itself). `okta_verify` is the Okta
    directory's own, where ITDESK_DIRECTORY has okta."""
    names = settings.check_providers or DEFAULT_PROVIDERS
    chain: list[tuple[str, Checks]] = []
    for name in names:
        checks = store.child("checks")
        if name == "okta_verify":
            if okta_verify is None:
                raise ValueError("ITDESK_CHECKS: okta_verify needs okta in ITDESK_DIRECTORY")
            chain.append((name, okta_verify))
        elif name == "duo":
            chain.append((name, DuoChecks(checks, clock, DuoApi.from_settings(settings, clock))))
        elif name == "sms":
            api = VerifyApi.from_settings(settings)
            chain.append((name, TwilioVerifyChecks(checks, clock, directory, contacts, api)))
        elif name == "email":
            email = EmailChecks(checks, clock, directory, mailer, contacts=contacts, order=order)
            chain.append((name, email))
        else:  # the settings refuse any other name at start-up
            raise ValueError(f"ITDESK_CHECKS: no check provider {name!r}")
    return chain[0][1] if len(chain) == 1 else CheckChain(chain)
