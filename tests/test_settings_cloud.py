"""The cloud identity and check settings: several directories in ITDESK_DIRECTORY, what Okta,
Entra, Duo and a Verify service each need, the order of ITDESK_CHECKS; every problem named
at once, secrets masked."""

from __future__ import annotations

from typing import Any

import pytest

from bot.settings import SettingsError, load_settings

MAIL = {"smtp_url": "smtp://127.0.0.1:25", "smtp_from": "desk@example.org", "web_chat": False}
OKTA = {"okta_url": "https://example.okta.com", "okta_token": "ssws-very-secret"}
LDAP = {"ldap_url": "ldaps://dc.example.org", "ldap_bind_dn": "cn=desk",
        "ldap_bind_password": "very-secret", "ldap_base_dn": "dc=example,dc=org"}  # fmt: skip


def problems(**values: Any) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, **values)
    return str(caught.value)


def test_several_directories_are_read_in_order() -> None:
    settings = load_settings(_env_file=None, directory="okta, ad", **MAIL, **OKTA, **LDAP)
    assert settings.directories == ("okta", "ad")
    assert settings.ldap_kind == "ad"
    shown = repr(settings) + settings.model_dump_json()
    assert "very-secret" not in shown


@pytest.mark.parametrize(
    ("directory", "named"),
    [("sandbox,okta", "cannot be combined"), ("ldap,ad", "one LDAP directory"),
     ("okta,okta", "comma-separated"), ("google", "comma-separated")],
)  # fmt: skip
def test_a_directory_list_that_cannot_be_is_refused(directory: str, named: str) -> None:
    message = problems(directory=directory, **MAIL, **OKTA, **LDAP)
    assert "ITDESK_DIRECTORY" in message
    assert named in message


def test_what_each_backend_lacks_is_named_at_once() -> None:
    message = problems(directory="okta,entra", checks="duo,sms,okta_verify", **MAIL)
    for name in ("ITDESK_OKTA_URL", "ITDESK_OKTA_TOKEN or ITDESK_OKTA_CLIENT_ID",
                 "ITDESK_ENTRA_TENANT_ID", "ITDESK_ENTRA_CLIENT_ID",
                 "ITDESK_ENTRA_CLIENT_SECRET or ITDESK_ENTRA_CERTIFICATE", "ITDESK_DUO_API_URL",
                 "ITDESK_DUO_SECRET_KEY", "ITDESK_TWILIO_AUTH_TOKEN",
                 "ITDESK_TWILIO_VERIFY_SERVICE_SID"):  # fmt: skip
        assert name in message


def test_check_providers_are_known_once_each_and_okta_verify_needs_okta() -> None:
    assert "ITDESK_CHECKS" in problems(checks="email,email")
    assert "ITDESK_CHECKS" in problems(checks="carrier-pigeon")
    assert "okta_verify needs okta" in problems(directory="ad", checks="okta_verify", **MAIL,
                                                **LDAP)  # fmt: skip
    settings = load_settings(_env_file=None, directory="okta", checks="okta_verify, email",
                             **MAIL, **OKTA)  # fmt: skip
    assert settings.check_providers == ("okta_verify", "email")


def test_an_okta_service_app_needs_its_key_and_not_a_token_as_well() -> None:
    base = {"directory": "okta", "okta_url": "https://example.okta.com", **MAIL}
    assert "ITDESK_OKTA_PRIVATE_KEY" in problems(okta_client_id="0oa1", **base)
    assert "exactly one" in problems(okta_client_id="0oa1", okta_private_key="k",
                                     okta_token="t", **base)  # fmt: skip
    assert load_settings(_env_file=None, okta_client_id="0oa1", okta_private_key="k", **base)
