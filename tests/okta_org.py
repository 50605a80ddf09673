"""The Okta tests' org: the contract org (`tests/contracts/org.yaml`) seeded into a fake Okta
(`servers.okta`), and the desk's Okta ports built over it as `from_settings` builds them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from servers.okta import FakeOkta

from adapters.okta.directory import OktaDirectory
from bot.clock import ManualClock
from bot.directory_files import load_catalogue, load_roles
from bot.org import Org, load_org
from bot.settings_cloud import CloudSettings

CONTRACTS = Path(__file__).parent / "contracts"
ORG: Org = load_org(CONTRACTS / "org.yaml")
ROLES = load_roles(CONTRACTS / "okta-roles.yaml")
CATALOGUE = load_catalogue(CONTRACTS / "okta-catalogue.yaml")


@dataclass
class Sleeps:
    """An injected `sleep` that moves the org's clock instead of waiting, and says so."""

    clock: ManualClock
    slept: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))


def service_key() -> tuple[str, str]:
    """A fresh RSA key for a service app: its private PEM and its public PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()  # fmt: skip
    info = serialization.PublicFormat.SubjectPublicKeyInfo
    public = key.public_key().public_bytes(serialization.Encoding.PEM, info)
    return private, public.decode()


def settings(fake: FakeOkta, **more: Any) -> CloudSettings:
    values: dict[str, Any] = {"okta_url": fake.url, "okta_token": fake.api_token} | more
    if "okta_client_id" in more:
        values.pop("okta_token")
    return CloudSettings.model_validate(values)


def directory(fake: FakeOkta, clock: ManualClock, sleep: Callable[[float], Awaitable[None]],
              **more: Any) -> OktaDirectory:  # fmt: skip
    return OktaDirectory.from_settings(settings(fake, **more), roles=ROLES, catalogue=CATALOGUE,
                                       clock=clock, sleep=sleep)  # fmt: skip
