"""The settings an Entra directory is built from, and its Graph tokens: client credentials
from `{ITDESK_ENTRA_AUTHORITY_URL}/{tenant}/oauth2/v2.0/token` for the scope
`{ITDESK_GRAPH_URL}/.default`, proven by the client secret or by a certificate (a JWT client
assertion signed with its private key, naming the certificate by its `x5t`, the base64url
SHA-1 of its DER form). The PEM is read once, at start-up; the token fetch itself is
aiohttp's, so a slow token endpoint never stalls the event loop."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from pydantic import SecretStr

from adapters.http.tokens import ClientCredentialTokens, client_assertion

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class EntraSettings(Protocol):
    """What of the desk's `Settings` an Entra directory reads."""

    @property
    def entra_tenant_id(self) -> str | None: ...
    @property
    def entra_client_id(self) -> str | None: ...
    @property
    def entra_client_secret(self) -> SecretStr | None: ...
    @property
    def entra_certificate(self) -> Path | None: ...
    @property
    def graph_url(self) -> str: ...
    @property
    def entra_authority_url(self) -> str: ...
    @property
    def entra_password_reset(self) -> Literal["sspr", "temporary"]: ...
    @property
    def entra_sspr_url(self) -> str: ...
    @property
    def entra_timeout(self) -> float: ...
    @property
    def roles_file(self) -> Path | None: ...
    @property
    def catalogue_file(self) -> Path | None: ...
    @property
    def code_addresses(self) -> tuple[str, ...]: ...


def thumbprint(certificate: x509.Certificate) -> str:
    """Entra's `x5t` for the certificate: base64url SHA-1 of its DER form, unpadded."""
    digest = certificate.fingerprint(hashes.SHA1())  # the x5t header's own algorithm
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def read_certificate(pem: str) -> tuple[str, str]:
    """The private key (as PKCS#8 PEM) and the certificate's thumbprint, from a PEM holding
    both."""
    try:
        certificate = x509.load_pem_x509_certificate(pem.encode())
        key = load_pem_private_key(pem.encode(), password=None)
    except ValueError:
        raise ValueError(
            "ITDESK_ENTRA_CERTIFICATE: a PEM holding the certificate and its unencrypted "
            "private key is needed"
        ) from None
    text = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    return text, thumbprint(certificate)


def graph_tokens(settings: EntraSettings) -> ClientCredentialTokens:
    s = settings
    if not (s.entra_tenant_id and s.entra_client_id):
        raise ValueError("ITDESK_ENTRA_TENANT_ID and ITDESK_ENTRA_CLIENT_ID are needed")
    client_id = s.entra_client_id
    token_url = f"{s.entra_authority_url.rstrip('/')}/{s.entra_tenant_id}/oauth2/v2.0/token"
    scope = f"{s.graph_url.rstrip('/')}/.default"
    base = {"grant_type": "client_credentials", "client_id": client_id, "scope": scope}
    secret = s.entra_client_secret
    if secret is not None:

        def by_secret() -> Mapping[str, str]:
            return {**base, "client_secret": secret.get_secret_value()}

        return ClientCredentialTokens(token_url, by_secret, timeout=s.entra_timeout)
    if s.entra_certificate is None:
        raise ValueError("ITDESK_ENTRA_CLIENT_SECRET or ITDESK_ENTRA_CERTIFICATE is needed")
    key, x5t = read_certificate(s.entra_certificate.read_text(encoding="utf-8"))

    def by_certificate() -> Mapping[str, str]:
        assertion = client_assertion(client_id, token_url, key, certificate_thumbprint=x5t)
        return {**base, "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}

    return ClientCredentialTokens(token_url, by_certificate, timeout=s.entra_timeout)
