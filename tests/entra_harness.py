"""What the Entra tests share: the contract suite's org over the fake Graph, the directory
built over it as the desk builds one, a `sleep` that records its waits, and certificates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from servers.graph import FakeGraph, entra_settings

from adapters.entra.directory import EntraDirectory
from bot.clock import ManualClock
from bot.directory_files import CatalogueOverlay, load_roles
from bot.org import load_org
from bot.store import Store

CONTRACTS = Path(__file__).parent / "contracts"
ORG = load_org(CONTRACTS / "org.yaml")
assert ORG.now is not None
NOW = ORG.now
ROLES = load_roles(CONTRACTS / "entra-roles.yaml")
CATALOGUE = CatalogueOverlay.model_validate({"groups": {g: o.model_dump() for g, o in
                                                         ORG.groups.items()}})  # fmt: skip


class Pauses:
    """The `sleep` the client is given: it records the waits and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def directory(fake: FakeGraph, *, store: Store | None = None, mailer: Any = None,
              clock: ManualClock | None = None, sleep: Any = None, **settings: Any
              ) -> EntraDirectory:  # fmt: skip
    return EntraDirectory.from_settings(
        entra_settings(fake, **settings), roles=ROLES, catalogue=CATALOGUE, mailer=mailer,
        store=store, clock=clock or ManualClock(NOW), sleep=sleep or Pauses(),
    )  # fmt: skip


def certificate(tmp_path: Path) -> tuple[Path, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "itdesk")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(dt.datetime(2020, 1, 1)).not_valid_after(dt.datetime(2040, 1, 1))
            .sign(key, hashes.SHA256()))  # fmt: skip
    pem = tmp_path / "entra.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()))  # fmt: skip
    return pem, cert
