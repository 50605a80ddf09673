"""The settings of the desk's real identity backends: which directory (the sandbox, OpenLDAP or
Active Directory), how to reach and read it, which of its groups make desk roles, and the mail
server that carries codes and links to an address on record. `bot.settings.Settings` has
them; `identity_problems` lists what is missing or wrong, all at once."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

DirectoryKind = Literal["sandbox", "ldap", "ad", "okta", "entra"]
LDAP_KINDS = frozenset({"ldap", "ad"})
# What each setting of ITDESK_LDAP_ATTRIBUTES names: the directory attribute holding it.
ATTRIBUTE_KEYS = frozenset({
    "username", "email", "secondary_email", "mobile", "manager", "display_name", "title",
    "department",
})  # fmt: skip
ADDRESS_KINDS = frozenset({"secondary", "primary"})


class IdentitySettings(BaseSettings):
    """ITDESK_DIRECTORY and what a real directory and the mail server need."""

    directory: str = Field(
        default="sandbox",
        description="sandbox (the org file), or the real directories in order: ldap "
        "(OpenLDAP) or ad, okta, entra; several (okta,ad) when people are mastered in one and "
        "synced to another",
    )
    ldap_url: str | None = Field(default=None, description="ldap://host:389 or ldaps://host:636")
    ldap_bind_dn: str | None = Field(default=None, description="the desk's service account")
    ldap_bind_password: SecretStr | None = None
    ldap_base_dn: str | None = Field(default=None, description="e.g. dc=example,dc=org")
    ldap_user_base: str | None = Field(default=None, description="where people are (unset: base)")
    ldap_group_base: str | None = Field(default=None, description="where groups are (unset: base)")
    ldap_user_filter: str | None = Field(
        default=None, description="which entries are people (unset: the flavour's default)"
    )
    ldap_group_filter: str | None = Field(
        default=None, description="which entries are groups (unset: the flavour's default)"
    )
    ldap_attributes: dict[str, str] = Field(
        default_factory=dict,
        description="JSON: username, email, secondary_email, mobile, manager, display_name, "
        "title, department -> the attribute holding it (unset keys: the flavour's default)",
    )
    ldap_ca_file: Path | None = Field(
        default=None, description="CA certificate(s) to trust for ldaps:// (unset: the system's)"
    )
    ldap_timeout: float = Field(default=10.0, gt=0, description="seconds per directory call")
    roles_file: Path | None = Field(
        default=None, description="YAML: directory groups -> desk roles, privileged groups"
    )
    catalogue_file: Path | None = Field(
        default=None,
        description="YAML: the groups people may ask for and the software catalogue (the org "
        "file's groups and software sections)",
    )
    smtp_url: SecretStr | None = Field(
        default=None, description="smtp://user:password@host:587 (STARTTLS) or smtps://...:465"
    )
    smtp_from: str | None = Field(default=None, description="the From address of codes and links")
    email_code_order: str = Field(
        default="secondary,primary",
        description="which address on record a code or link goes to first: secondary, primary",
    )
    password_reset_url: str | None = Field(
        default=None,
        description="the org's own reset portal; unset, the desk serves its reset page",
    )
    password_must_change: bool = Field(
        default=False, description="a password set through the reset page must be changed at "
        "the next sign-in",
    )  # fmt: skip

    @property
    def directories(self) -> tuple[str, ...]:
        """The directory kinds ITDESK_DIRECTORY names, in its order."""
        return tuple(part.strip() for part in self.directory.split(",") if part.strip())

    @property
    def ldap_kind(self) -> str | None:
        """The LDAP directory among them (ldap or ad), if any."""
        return next((kind for kind in self.directories if kind in LDAP_KINDS), None)

    @property
    def code_addresses(self) -> tuple[str, ...]:
        """The order codes and links try the addresses on record in."""
        return tuple(part.strip() for part in self.email_code_order.split(",") if part.strip())


def identity_problems(s: IdentitySettings) -> list[str]:
    """Every problem with the identity settings, each naming its variable."""
    problems: list[str] = []
    kinds = s.directories
    known = set(get_args(DirectoryKind))
    if not kinds or set(kinds) - known or len(set(kinds)) != len(kinds):
        problems.append(
            "ITDESK_DIRECTORY: sandbox, or a comma-separated list of ldap, ad, okta, entra"
        )
    elif "sandbox" in kinds and len(kinds) > 1:
        problems.append("ITDESK_DIRECTORY: sandbox cannot be combined with real directories")
    elif len(LDAP_KINDS & set(kinds)) > 1:
        problems.append("ITDESK_DIRECTORY: one LDAP directory (ldap or ad) at most")
    if s.ldap_kind is not None:
        for name in ("ldap_url", "ldap_bind_dn", "ldap_bind_password", "ldap_base_dn"):
            if getattr(s, name) is None:
                problems.append(
                    f"ITDESK_{name.upper()}: required with ITDESK_DIRECTORY={s.directory}"
                )
    if s.directory != "sandbox" and s.smtp_url is None:
        problems.append(
            f"ITDESK_SMTP_URL: required with ITDESK_DIRECTORY={s.directory} (codes and "
            "links reach people by e-mail)"
        )
    if s.ldap_url is not None and urlsplit(s.ldap_url).scheme not in {"ldap", "ldaps"}:
        problems.append("ITDESK_LDAP_URL: must start with ldap:// or ldaps://")
    if s.ldap_ca_file is not None and not s.ldap_ca_file.is_file():
        problems.append(f"ITDESK_LDAP_CA_FILE: no file {s.ldap_ca_file}")
    unknown = sorted(set(s.ldap_attributes) - ATTRIBUTE_KEYS)
    if unknown:
        problems.append(
            f"ITDESK_LDAP_ATTRIBUTES: unknown {', '.join(unknown)} (known: "
            f"{', '.join(sorted(ATTRIBUTE_KEYS))})"
        )
    for name in ("roles_file", "catalogue_file"):
        path = getattr(s, name)
        if path is not None and not path.is_file():
            problems.append(f"ITDESK_{name.upper()}: no file {path}")
    if s.smtp_url is not None:
        url = urlsplit(s.smtp_url.get_secret_value())
        if url.scheme not in {"smtp", "smtps"} or not url.hostname:
            problems.append(
                "ITDESK_SMTP_URL: must be smtp://[user:password@]host[:port] or smtps://..."
            )
        if s.smtp_from is None:
            problems.append("ITDESK_SMTP_FROM: required with ITDESK_SMTP_URL")
    order = s.code_addresses
    if not order or set(order) - ADDRESS_KINDS or len(set(order)) != len(order):
        problems.append("ITDESK_EMAIL_CODE_ORDER: a comma-separated order of secondary, primary")
    return problems
