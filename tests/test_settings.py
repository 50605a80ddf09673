"""Settings: read from ITDESK_* variables, every problem reported at once, secrets masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings


def test_reads_itdesk_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITDESK_PORT", "9090")
    monkeypatch.setenv("ITDESK_NLU_THRESHOLD", "0.7")
    settings = load_settings(_env_file=None)
    assert (settings.port, settings.nlu_threshold) == (9090, 0.7)


def test_every_problem_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITDESK_PORT", "not-a-port")
    monkeypatch.setenv("ITDESK_NLU_THRESHOLD", "7")
    monkeypatch.setenv("ITDESK_LOG_LEVEL", "LOUD")
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None)
    message = str(caught.value)
    for name in ("ITDESK_PORT", "ITDESK_NLU_THRESHOLD", "ITDESK_LOG_LEVEL"):
        assert name in message


def test_secrets_never_print(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ITDESK_SLACK_BOT_TOKEN", "xoxb-very-secret")
    monkeypatch.setenv("ITDESK_SLACK_SIGNING_SECRET", "signing-very-secret")
    settings = load_settings(_env_file=None)
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert "very-secret" not in shown
    assert settings.slack_bot_token is not None
    assert settings.slack_bot_token.get_secret_value() == "xoxb-very-secret"


def test_a_slack_token_without_its_signing_secret_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ITDESK_SLACK_BOT_TOKEN", "xoxb-1")
    with pytest.raises(SettingsError, match="ITDESK_SLACK_SIGNING_SECRET"):
        load_settings(_env_file=None)


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "desk.example.com"])
def test_the_web_chat_never_listens_beyond_loopback(host: str) -> None:
    with pytest.raises(SettingsError, match="ITDESK_WEB_CHAT"):
        load_settings(_env_file=None, host=host)
    assert load_settings(_env_file=None, host=host, web_chat=False).host == host


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_the_web_chat_runs_on_loopback(host: str) -> None:
    assert load_settings(_env_file=None, host=host).web_chat


def test_the_start_up_cache_lives_under_the_data_directory_unless_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ITDESK_CACHE_DIR", raising=False)
    monkeypatch.setenv("ITDESK_DATA_DIR", str(tmp_path))
    assert load_settings(_env_file=None).cache_directory == tmp_path / "cache"
    monkeypatch.setenv("ITDESK_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert load_settings(_env_file=None).cache_directory == tmp_path / "elsewhere"
