"""How the desk signs in to Okta: an API token (`Authorization: SSWS <token>`, acting with its
creator's admin role) or an OAuth 2.0 service app (client credentials with a private_key_jwt
assertion signed by the app's key, `Authorization: Bearer <token>`), as ITDESK_OKTA_* say."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from adapters.http.tokens import ClientCredentialTokens, StaticToken, TokenSource, client_assertion
from adapters.okta.client import Scheme
from bot.settings_cloud import CloudSettings

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def okta_credentials(
    settings: CloudSettings, *, session: aiohttp.ClientSession | None = None
) -> tuple[TokenSource, Scheme]:
    """The token source and header scheme the settings describe (a `ValueError` naming the
    variable when they describe neither)."""
    s = settings
    if not s.okta_url:
        raise ValueError("ITDESK_OKTA_URL is needed")
    if s.okta_token is not None:
        return StaticToken(s.okta_token.get_secret_value()), "SSWS"
    if s.okta_client_id is None or s.okta_private_key is None:
        raise ValueError("ITDESK_OKTA_TOKEN, or ITDESK_OKTA_CLIENT_ID and _PRIVATE_KEY, are needed")
    token_url = s.okta_url.rstrip("/") + "/oauth2/v1/token"
    client_id, key_id, scopes = s.okta_client_id, s.okta_key_id, s.okta_scopes
    pem = private_key_pem(s.okta_private_key.get_secret_value())

    def form() -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "scope": scopes,
            "client_assertion_type": JWT_BEARER,
            "client_assertion": client_assertion(client_id, token_url, pem, key_id=key_id),
        }

    tokens = ClientCredentialTokens(token_url, form, timeout=s.okta_timeout, session=session)
    return tokens, "Bearer"


def private_key_pem(value: str) -> str:
    """ITDESK_OKTA_PRIVATE_KEY as PEM text: given as it is, or read from the path it names."""
    if value.lstrip().startswith("-----BEGIN"):
        return value
    if "\n" in value.strip() or len(value) > 1024:  # key material without its PEM armour
        raise ValueError("ITDESK_OKTA_PRIVATE_KEY: neither PEM text nor the path of a PEM file")
    path = Path(value.strip())
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        # the path, never its contents, may be named
        raise ValueError(f"ITDESK_OKTA_PRIVATE_KEY: cannot read {path} ({exc.strerror})") from None
