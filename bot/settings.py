"""The desk's configuration: one validated model, read from ITDESK_* variables and `.env`."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import SettingsConfigDict

from bot.audit import MIN_KEY_BYTES
from bot.settings_cloud import CloudSettings, cloud_problems
from bot.settings_identity import IdentitySettings, identity_problems
from bot.settings_tickets import TicketSettings, ticket_problems
from bot.store import POOL_SIZE, POOL_TIMEOUT

ACCESS_OVERDUE_MINUTES = 60


class SettingsError(Exception):
    """The configuration is invalid; the message lists every problem at once."""


class Settings(IdentitySettings, CloudSettings, TicketSettings):
    """Everything the desk needs to start. Secrets are `SecretStr` and print masked."""

    model_config = SettingsConfigDict(
        env_prefix="ITDESK_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # state
    redis_url: str | None = Field(
        default=None, description="Redis to use; unset starts an embedded redis-server"
    )
    data_dir: Path = Field(default=Path("var"), description="embedded Redis data and AOF")
    namespace: str = Field(default="itdesk", pattern=r"^[A-Za-z0-9_.-]+$")
    redis_pool_size: int = Field(
        default=POOL_SIZE, ge=1, description="Redis connections per desk process"
    )
    redis_pool_timeout: float = Field(
        default=POOL_TIMEOUT, gt=0, description="seconds a command waits for a free connection"
    )
    cache_dir: Path | None = Field(
        default=None,
        description="what start-up derives and keeps: the fitted intent model, parsed org files",
    )

    # the audit trail
    audit_key: SecretStr | None = Field(
        default=None,
        description="HMAC key of the audit chain (from a secret store); unset: a key file "
        "under data_dir, made on first use",
    )
    audit_checkpoint_file: Path | None = Field(
        default=None,
        description="append-only file of signed audit checkpoints (unset: "
        "data_dir/audit-checkpoints.jsonl); keep it off the Redis machine",
    )
    audit_checkpoint_every: int = Field(
        default=100, ge=1, description="audit records between two signed checkpoints"
    )

    # outages: reports of one problem from many people become one incident
    outage_window_minutes: int = Field(
        default=15, ge=1, description="how far back reports of the same problem are counted"
    )
    outage_threshold: int = Field(
        default=5, ge=2, description="people reporting the same problem that make an outage"
    )

    # time-bound access: a removal still failing this long after its due time is flagged
    access_overdue_minutes: int = Field(
        default=ACCESS_OVERDUE_MINUTES,
        ge=1,
        description="how long after its end a grant the directory will not remove is "
        "flagged to on call (the desk keeps trying)",
    )

    # the sandbox world (demo and evaluation)
    org_file: Path | None = Field(default=None, description="sandbox org file to serve")

    # http
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    web_chat: bool = True
    public_url: AnyHttpUrl | None = None

    # logging
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    # desk behaviour
    oncall_channel: str = "oncall"
    nlu_threshold: float = Field(default=0.55, ge=0.0, le=1.0)

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: AnyHttpUrl = AnyHttpUrl("https://slack.com/api/")
    slack_oncall_channel: str | None = None

    # Teams
    teams_app_id: str | None = None
    teams_app_password: SecretStr | None = None
    teams_tenant_id: str | None = None
    teams_allow_unauthenticated: bool = False
    teams_oncall_channel: str | None = Field(
        default=None, description="Teams channel id (19:...@thread.tacv2) for escalation threads"
    )
    teams_service_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://smba.trafficmanager.net/teams/"),
        description="Bot Connector for proactive messages before any activity names one",
    )
    teams_token_url: AnyHttpUrl | None = Field(
        default=None,
        description="where the bot gets its Bearer token for the Bot Connector (unset: "
        "Entra ID's token endpoint for the botframework.com tenant, or ITDESK_TEAMS_TENANT_ID's)",
    )
    teams_openid_metadata_url: AnyHttpUrl = Field(
        default=AnyHttpUrl("https://login.botframework.com/v1/.well-known/openidconfiguration"),
        description="where the Bot Framework publishes the keys that sign inbound activities",
    )

    # Claude
    anthropic_api_key: SecretStr | None = None
    anthropic_model: str = "claude-haiku-4-5"
    anthropic_base_url: AnyHttpUrl | None = None

    @property
    def cache_directory(self) -> Path:
        """Where start-up keeps what it derives from its inputs (unset: `data_dir/cache`)."""
        return self.cache_dir or self.data_dir / "cache"

    @property
    def audit_checkpoint_path(self) -> Path:
        """Where the signed audit checkpoints go (unset: `data_dir/audit-checkpoints.jsonl`)."""
        return self.audit_checkpoint_file or self.data_dir / "audit-checkpoints.jsonl"

    @field_validator("audit_key")
    @classmethod
    def _long_enough(cls, key: SecretStr | None) -> SecretStr | None:
        if key is not None and len(key.get_secret_value().encode()) < MIN_KEY_BYTES:
            raise ValueError(f"needs at least {MIN_KEY_BYTES} characters (use 32 random bytes)")
        return key

    @model_validator(mode="after")
    def _check_pairs(self) -> Settings:
        problems: list[str] = [
            *identity_problems(self),
            *cloud_problems(self, self.directories),
            *ticket_problems(self),
        ]
        if self.slack_bot_token and not self.slack_signing_secret and not self.slack_app_token:
            problems.append(
                "ITDESK_SLACK_SIGNING_SECRET: required with ITDESK_SLACK_BOT_TOKEN in HTTP mode "
                "(or set ITDESK_SLACK_APP_TOKEN for Socket Mode)"
            )
        if (self.slack_signing_secret or self.slack_app_token) and not self.slack_bot_token:
            problems.append(
                "ITDESK_SLACK_BOT_TOKEN: required with ITDESK_SLACK_SIGNING_SECRET or "
                "ITDESK_SLACK_APP_TOKEN (OAuth & Permissions > Bot User OAuth Token, xoxb-...)"
            )
        if self.teams_app_id and not self.teams_app_password:
            problems.append("ITDESK_TEAMS_APP_PASSWORD: required with ITDESK_TEAMS_APP_ID")
        if self.teams_app_id and self.teams_allow_unauthenticated:
            problems.append(
                "ITDESK_TEAMS_ALLOW_UNAUTHENTICATED: only for local use without "
                "ITDESK_TEAMS_APP_ID; with an app id every activity is authenticated"
            )
        if self.web_chat and self.directory != "sandbox":
            problems.append(
                f"ITDESK_WEB_CHAT: the web chat lets anyone act as anyone, so it serves only the "
                f"sandbox; set ITDESK_WEB_CHAT=false with ITDESK_DIRECTORY={self.directory}"
            )
        if self.web_chat and not _loopback(self.host):
            problems.append(
                f"ITDESK_WEB_CHAT: the web chat has no sign-in (anyone can act as anyone), so it "
                f"only listens on a loopback address; set ITDESK_WEB_CHAT=false to serve on "
                f"{self.host}"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's errors into one readable `SettingsError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            name = f"ITDESK_{loc.upper()}" if loc else "settings"
            lines.append(f"  {name}: {err['msg']}")
        raise SettingsError("invalid configuration:\n" + "\n".join(lines)) from None
