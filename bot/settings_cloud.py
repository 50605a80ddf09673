"""The settings of the cloud identity backends and the sign-in checks: Okta (its Management
API, by an SSWS token or an OAuth service app's private key), Entra ID through Microsoft
Graph (client secret or certificate), which providers send step-up checks and in what order
(`ITDESK_CHECKS`), Duo's Auth API, a Twilio-compatible Verify API for SMS codes, and how often
the desk looks for new lockouts to reach out about. `cloud_problems` lists what is missing or
wrong, all at once."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

CHECK_PROVIDERS = ("okta_verify", "duo", "sms", "email")
# What each directory kind of ITDESK_DIRECTORY needs named, and which may be combined.
CLOUD_DIRECTORIES = frozenset({"okta", "entra"})
DEFAULT_OKTA_SCOPES = "okta.users.manage okta.groups.manage okta.logs.read"
LOCKOUT_POLL_SECONDS = 60.0


class CloudSettings(BaseSettings):
    """ITDESK_OKTA_*, ITDESK_ENTRA_*, ITDESK_GRAPH_URL, ITDESK_CHECKS, ITDESK_DUO_*,
    ITDESK_TWILIO_* and ITDESK_LOCKOUT_POLL_SECONDS."""

    okta_url: str | None = Field(default=None, description="https://<org>.okta.com")
    okta_token: SecretStr | None = Field(default=None, description="an API token (SSWS)")
    okta_client_id: str | None = Field(
        default=None, description="an OAuth service app's client id (instead of a token)"
    )
    okta_private_key: SecretStr | None = Field(
        default=None, description="the service app's private key: PEM text, or a path to a PEM"
    )
    okta_key_id: str | None = Field(
        default=None, description="the key's kid, where Okta has several"
    )
    okta_scopes: str = Field(default=DEFAULT_OKTA_SCOPES, description="the scopes the app asks for")
    okta_timeout: float = Field(default=10.0, gt=0, description="seconds per Okta call")

    entra_tenant_id: str | None = Field(default=None, description="the directory (tenant) id")
    entra_client_id: str | None = Field(default=None, description="the app registration's id")
    entra_client_secret: SecretStr | None = Field(default=None, description="its client secret")
    entra_certificate: Path | None = Field(
        default=None,
        description="instead of a secret: a PEM holding the private key and certificate",
    )
    graph_url: str = Field(default="https://graph.microsoft.com", description="Microsoft Graph")
    entra_authority_url: str = Field(
        default="https://login.microsoftonline.com", description="where tokens come from"
    )
    entra_password_reset: Literal["sspr", "temporary"] = Field(
        default="sspr",
        description="sspr: send the person the org's self-service reset link; temporary: set a "
        "temporary password, delivered only to an address on record",
    )
    entra_sspr_url: str = Field(
        default="https://passwordreset.microsoftonline.com/", description="the SSPR portal"
    )
    entra_timeout: float = Field(default=10.0, gt=0, description="seconds per Graph call")

    checks: str = Field(
        default="",
        description="the providers of step-up checks, in order (okta_verify, duo, sms, email); "
        "each person gets the first they have. Unset: the sandbox phone, or email with a real "
        "directory",
    )
    duo_api_url: str | None = Field(default=None, description="https://api-XXXX.duosecurity.com")
    duo_integration_key: str | None = None
    duo_secret_key: SecretStr | None = None
    twilio_verify_url: str = Field(default="https://verify.twilio.com", description="Verify API")
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_verify_service_sid: str | None = Field(default=None, description="VA...")

    lockout_poll_seconds: float = Field(
        default=LOCKOUT_POLL_SECONDS,
        ge=0,
        description="how often new lockouts are looked for (0: never)",
    )

    @property
    def check_providers(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.checks.split(",") if part.strip())


def cloud_problems(s: CloudSettings, directories: tuple[str, ...]) -> list[str]:
    """Every problem with the cloud and check settings, each naming its variable, for the
    directories ITDESK_DIRECTORY names."""
    problems: list[str] = []
    if "okta" in directories:
        if not s.okta_url:
            problems.append("ITDESK_OKTA_URL: required with ITDESK_DIRECTORY=okta")
        if (s.okta_token is None) == (s.okta_client_id is None):
            problems.append(
                "ITDESK_OKTA_TOKEN or ITDESK_OKTA_CLIENT_ID (with ITDESK_OKTA_PRIVATE_KEY): "
                "exactly one is needed with ITDESK_DIRECTORY=okta"
            )
        if s.okta_client_id is not None and s.okta_private_key is None:
            problems.append("ITDESK_OKTA_PRIVATE_KEY: required with ITDESK_OKTA_CLIENT_ID")
    if s.okta_url is not None and urlsplit(s.okta_url).scheme not in {"https", "http"}:
        problems.append("ITDESK_OKTA_URL: must be https://<org>.okta.com")
    if "entra" in directories:
        for name in ("entra_tenant_id", "entra_client_id"):
            if getattr(s, name) is None:
                problems.append(f"ITDESK_{name.upper()}: required with ITDESK_DIRECTORY=entra")
        if (s.entra_client_secret is None) == (s.entra_certificate is None):
            problems.append(
                "ITDESK_ENTRA_CLIENT_SECRET or ITDESK_ENTRA_CERTIFICATE: exactly one is needed "
                "with ITDESK_DIRECTORY=entra"
            )
    if s.entra_certificate is not None and not s.entra_certificate.is_file():
        problems.append(f"ITDESK_ENTRA_CERTIFICATE: no file {s.entra_certificate}")
    providers = s.check_providers
    unknown = sorted(set(providers) - set(CHECK_PROVIDERS))
    if unknown or len(set(providers)) != len(providers):
        problems.append(
            f"ITDESK_CHECKS: a comma-separated order of {', '.join(CHECK_PROVIDERS)}, each once"
        )
    if "okta_verify" in providers and "okta" not in directories:
        problems.append("ITDESK_CHECKS: okta_verify needs okta in ITDESK_DIRECTORY")
    if "duo" in providers:
        for name in ("duo_api_url", "duo_integration_key", "duo_secret_key"):
            if getattr(s, name) is None:
                problems.append(f"ITDESK_{name.upper()}: required with duo in ITDESK_CHECKS")
    if "sms" in providers:
        for name in ("twilio_account_sid", "twilio_auth_token", "twilio_verify_service_sid"):
            if getattr(s, name) is None:
                problems.append(f"ITDESK_{name.upper()}: required with sms in ITDESK_CHECKS")
    return problems
