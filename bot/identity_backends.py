"""The backends of a real organisation, as `ITDESK_DIRECTORY` chooses them: the directory
(OpenLDAP, or Active Directory), the checks and notices that reach people by e-mail at the
addresses it records, and, until their own backends come, the desk's built-in ticket queue
and a device catalogue from the catalogue file."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.directory.ldap import LdapDirectory
from adapters.mail.smtp import SmtpMailer, SmtpServer
from adapters.notify.email import EmailOutbox
from bot.backends import Backends
from bot.check_backends import check_providers
from bot.clock import Clock
from bot.directory_files import CatalogueOverlay, load_catalogue, load_roles
from bot.org import Org
from bot.settings import Settings
from bot.store import Store
from bot.world import SandboxWorld


@dataclass(frozen=True)
class RealBackends:
    """A real organisation's ports, and what serves the ports it has no backend for yet."""

    backends: Backends
    directory: LdapDirectory
    rest: SandboxWorld  # the built-in ticket queue and the catalogue's devices

    def close(self) -> None:
        self.directory.close()


async def real_backends(settings: Settings, store: Store, clock: Clock) -> RealBackends:
    """The ports `settings` describe (`settings.directory` is not the sandbox)."""
    if settings.smtp_url is None or settings.smtp_from is None:
        raise ValueError("ITDESK_SMTP_URL and ITDESK_SMTP_FROM are needed with a real directory")
    catalogue = load_catalogue(settings.catalogue_file)
    directory = LdapDirectory.from_settings(
        settings, roles=load_roles(settings.roles_file), catalogue=catalogue, clock=clock
    )
    mailer = SmtpMailer(
        SmtpServer.from_url(settings.smtp_url.get_secret_value()), settings.smtp_from, clock
    )
    order = settings.code_addresses
    checks = check_providers(settings, store, clock, directory, directory, mailer, order=order)
    outbox = EmailOutbox(store.child("outbox"), directory, mailer, order=order)
    rest = await SandboxWorld.create(store.child("world"), catalogue_org(catalogue), clock)
    backends = Backends(directory, rest.devices, rest.tickets, outbox, checks)
    return RealBackends(backends, directory, rest)


def catalogue_org(catalogue: CatalogueOverlay) -> Org:
    """An org with no people: only the software catalogue (devices and tickets keep their
    built-in backends until real ones are configured)."""
    return Org(name="catalogue", domain="invalid", users={}, software=dict(catalogue.software))
