"""The identity settings and the two files a real directory is described with: every problem
reported at once, naming the variable or the file, the field and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.directory_files import load_catalogue, load_roles
from bot.org import OrgFileError
from bot.settings import SettingsError, load_settings


def test_a_real_directory_without_its_settings_names_every_missing_one_at_once() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(directory="ldap", _env_file=None)
    said = str(caught.value)
    for name in ("LDAP_URL", "LDAP_BIND_DN", "LDAP_BIND_PASSWORD", "LDAP_BASE_DN", "SMTP_URL"):
        assert f"ITDESK_{name}: required with ITDESK_DIRECTORY=ldap" in said


def test_the_web_chat_never_serves_a_real_directory() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(directory="ldap", _env_file=None)
    assert "ITDESK_WEB_CHAT: the web chat lets anyone act as anyone" in str(caught.value)


def test_wrong_urls_attributes_and_orders_are_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(
            directory="ad", ldap_url="http://dc", ldap_bind_dn="cn=desk", ldap_bind_password="pw",
            ldap_base_dn="dc=x", ldap_attributes={"shoe_size": "x"}, smtp_url="mail://x",
            email_code_order="primary,phone", roles_file=tmp_path / "none.yaml", _env_file=None,
        )  # fmt: skip
    said = str(caught.value)
    assert "ITDESK_LDAP_URL: must start with ldap:// or ldaps://" in said
    assert "ITDESK_LDAP_ATTRIBUTES: unknown shoe_size" in said
    assert "ITDESK_SMTP_URL: must be smtp://" in said
    assert "ITDESK_SMTP_FROM: required" in said
    assert "ITDESK_EMAIL_CODE_ORDER" in said
    assert f"ITDESK_ROLES_FILE: no file {tmp_path / 'none.yaml'}" in said
    assert "pw" not in said.replace("ITDESK_LDAP_BIND_PASSWORD", "")


def test_a_complete_ldap_configuration_is_accepted_and_the_password_kept_secret() -> None:
    settings = load_settings(
        directory="ldap", ldap_url="ldaps://ldap.example.org", ldap_bind_dn="cn=desk,dc=example",
        ldap_bind_password="s3cret-bind", ldap_base_dn="dc=example",
        smtp_url="smtps://desk:mailpw@mail.example.org:465", smtp_from="it@example.org",
        web_chat=False, _env_file=None,
    )  # fmt: skip
    assert settings.code_addresses == ("secondary", "primary")
    assert "s3cret-bind" not in repr(settings)
    assert "mailpw" not in repr(settings)


def test_the_roles_file_maps_groups_to_roles_whatever_their_case(tmp_path: Path) -> None:
    path = tmp_path / "roles.yaml"
    path.write_text("roles:\n  admin: [IT-Admins]\n  oncall: [it-oncall, it-admins]\n"
                    "privileged: [Domain-Admins]\n")  # fmt: skip
    roles = load_roles(path)
    assert roles.roles_of(["it-admins"]) == ("admin", "oncall")
    assert roles.roles_of(["staff"]) == ()
    assert roles.privileged_by(["DOMAIN-ADMINS", "staff"])
    assert not roles.privileged_by(["staff"])
    assert load_roles(None).roles_of(["it-admins"]) == ()


def test_a_bad_roles_file_names_the_role_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "roles.yaml"
    path.write_text("roles:\n  admin: [it-admins]\n  boss: [execs]\nprivileged: nobody\n")
    with pytest.raises(OrgFileError) as caught:
        load_roles(path)
    said = str(caught.value)
    assert "invalid roles file" in said
    assert "roles.boss (line 3): not a desk role" in said


def test_the_catalogue_file_gives_real_groups_their_owner_approval_and_limit(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catalogue.yaml"
    path.write_text("groups:\n  finance-ledger:\n    name: General Ledger (read)\n    owner: mo\n"
                    "    max_days: 30\nsoftware:\n  zoom: {name: Zoom}\n")  # fmt: skip
    catalogue = load_catalogue(path)
    group = catalogue.group("Finance-Ledger")
    assert group is not None
    assert (group.name, group.owner, group.max_days) == ("General Ledger (read)", "mo", 30)
    assert "zoom" in catalogue.software
    path.write_text("groups:\n  finance-ledger: {name: '', max_days: -3}\n")
    with pytest.raises(OrgFileError) as caught:
        load_catalogue(path)
    assert "invalid catalogue file, 2 problems" in str(caught.value)
