"""The backends of a real organisation, as `ITDESK_DIRECTORY` chooses them: the directories
(OpenLDAP or Active Directory, Okta, Entra ID; with several, each person's writes go to the
one that masters them: `adapters.directory.routed`), their lockout feeds, the sign-in checks
`ITDESK_CHECKS` names (`bot.check_backends`), notices by e-mail at the addresses on record,
and, until their own backends come, the desk's built-in ticket queue and a device catalogue
from the catalogue file."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp

from adapters.directory.ldap import LdapDirectory
from adapters.directory.lockout_feeds import MergedLockouts
from adapters.directory.routed import RoutedDirectory
from adapters.entra.directory import EntraDirectory
from adapters.entra.signins import EntraSignIns
from adapters.mail.smtp import SmtpMailer, SmtpServer
from adapters.notify.email import EmailOutbox
from adapters.okta.directory import OktaDirectory
from adapters.okta.syslog import OktaLockouts
from adapters.okta.verify import OktaVerifyChecks
from bot.backends import Backends
from bot.check_backends import check_providers
from bot.clock import Clock
from bot.directory_files import CatalogueOverlay, load_catalogue, load_roles
from bot.org import Org
from bot.ports import Checks, Contacts, Directory, LockoutFeed, Master
from bot.settings import Settings
from bot.store import Store
from bot.world import SandboxWorld


@dataclass
class RealBackends:
    """A real organisation's ports, and what serves the ports it has no backend for yet."""

    backends: Backends
    rest: SandboxWorld  # the built-in ticket queue and the catalogue's devices
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def close(self) -> None:
        """End the directories' connections."""
        for close in reversed(self.closers):
            await close()


@dataclass
class _Found:
    """The directories built so far, in ITDESK_DIRECTORY's order."""

    sources: list[tuple[Master, Directory]] = field(default_factory=list)
    feeds: list[tuple[str, LockoutFeed]] = field(default_factory=list)
    okta_verify: Checks | None = None


async def real_backends(settings: Settings, store: Store, clock: Clock) -> RealBackends:
    """The ports `settings` describe (`settings.directory` is not the sandbox)."""
    if settings.smtp_url is None or settings.smtp_from is None:
        raise ValueError("ITDESK_SMTP_URL and ITDESK_SMTP_FROM are needed with a real directory")
    catalogue, roles = load_catalogue(settings.catalogue_file), load_roles(settings.roles_file)
    mailer = SmtpMailer(
        SmtpServer.from_url(settings.smtp_url.get_secret_value()), settings.smtp_from, clock
    )
    session = aiohttp.ClientSession()  # one pool for every SaaS directory's calls
    rest = await SandboxWorld.create(store.child("world"), catalogue_org(catalogue), clock)
    real = RealBackends(Backends(rest.directory, rest.devices, rest.tickets, rest.outbox,
                                 rest.checks), rest, [session.close])  # fmt: skip
    found = _Found()
    for kind in settings.directories:
        if kind in ("ldap", "ad"):
            ldap = LdapDirectory.from_settings(settings, roles=roles, catalogue=catalogue,
                                               clock=clock)  # fmt: skip
            real.closers.append(_sync(ldap.close))
            found.sources.append(("ldap" if kind == "ldap" else "ad", ldap))
            found.feeds.append((kind, ldap.lockouts()))
        elif kind == "okta":
            okta = OktaDirectory.from_settings(settings, roles=roles, catalogue=catalogue,
                                               clock=clock, session=session)  # fmt: skip
            found.sources.append(("okta", okta))
            found.feeds.append(("okta", OktaLockouts(okta.client, clock)))
            found.okta_verify = OktaVerifyChecks(okta, store.child("okta"), clock)
        elif kind == "entra":
            entra = EntraDirectory.from_settings(
                settings, roles=roles, catalogue=catalogue, mailer=mailer,
                store=store.child("entra"), clock=clock, session=session,
            )  # fmt: skip
            found.sources.append(("entra", entra))
            found.feeds.append(("entra", EntraSignIns.from_settings(settings, clock=clock,
                                                                    session=session)))  # fmt: skip
    directory = _one(found.sources)
    order = settings.code_addresses
    checks = check_providers(settings, store, clock, directory, _contacts(directory), mailer,
                             okta_verify=found.okta_verify, order=order)  # fmt: skip
    outbox = EmailOutbox(store.child("outbox"), _contacts(directory), mailer, order=order)
    feed = found.feeds[0][1] if len(found.feeds) == 1 else MergedLockouts(found.feeds)
    real.backends = Backends(directory, rest.devices, rest.tickets, outbox, checks, feed)
    return real


def _one(sources: list[tuple[Master, Directory]]) -> Directory:
    if not sources:
        raise ValueError("ITDESK_DIRECTORY names no real directory")
    return sources[0][1] if len(sources) == 1 else RoutedDirectory(sources)


def _contacts(directory: Directory) -> Contacts:
    """Every real directory keeps addresses on record."""
    if not isinstance(directory, Contacts):
        raise TypeError(f"{directory!r} keeps no addresses on record")
    return directory


def _sync(close: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    async def closing() -> None:
        close()

    return closing


def catalogue_org(catalogue: CatalogueOverlay) -> Org:
    """An org with no people: only the software catalogue (devices and tickets keep their
    built-in backends until real ones are configured)."""
    return Org(name="catalogue", domain="invalid", users={}, software=dict(catalogue.software))
