"""ServiceNow's changes pushed by the desk's business rules (`itdesk_business_rule.js`), as the
desk's `TicketWebhooks`. ServiceNow signs nothing itself, so the rules do: header
`X-Itdesk-Signature: sha256=<base64 HMAC-SHA256>` over "<timestamp>.<body>" with the shared
secret (ITDESK_SERVICENOW_WEBHOOK_SECRET), and `X-Itdesk-Timestamp` in epoch seconds. The
signature and the timestamp (within `TOLERANCE`) are checked before the body is parsed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from adapters.servicenow.changes import FIELDS, field_change, journal_change, opened_change
from bot.clock import Clock, SystemClock
from bot.ports import TicketChange, WebhookRefused
from bot.settings_tickets import TicketSettings

SIGNATURE = "x-itdesk-signature"
TIMESTAMP = "x-itdesk-timestamp"
TOLERANCE = 300.0  # seconds either side of the desk's clock


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The header value the business rule sends."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(mac).decode()


class ServiceNowWebhooks:
    def __init__(
        self,
        secret: SecretStr,
        *,
        integration_user: str | None,
        groups: Mapping[str, str],
        clock: Clock | None = None,
    ) -> None:
        self._secret = secret
        self._desk = integration_user
        self._groups = dict(groups)
        self._clock = clock or SystemClock()

    @classmethod
    def from_settings(
        cls, settings: TicketSettings, *, clock: Clock | None = None
    ) -> ServiceNowWebhooks:
        if settings.servicenow_webhook_secret is None:
            raise ValueError("ITDESK_SERVICENOW_WEBHOOK_SECRET is required for the webhook")
        return cls(settings.servicenow_webhook_secret, integration_user=settings.servicenow_user,
                   groups=settings.servicenow_assignment_groups, clock=clock)  # fmt: skip

    def __repr__(self) -> str:
        return "ServiceNowWebhooks(***)"

    def parse(self, headers: Mapping[str, str], body: bytes) -> tuple[TicketChange, ...]:
        self._check(headers, body)
        try:
            event = json.loads(body)
            return self._changes(event)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise WebhookRefused(f"not a ServiceNow change ({type(exc).__name__})") from None

    def _check(self, headers: Mapping[str, str], body: bytes) -> None:
        lower = {k.lower(): v for k, v in headers.items()}
        given, timestamp = lower.get(SIGNATURE, ""), lower.get(TIMESTAMP, "")
        if not given or not timestamp:
            raise WebhookRefused("unsigned")
        expected = signature(self._secret.get_secret_value(), timestamp, body)
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookRefused("a wrong signature")
        try:
            sent = float(timestamp)
        except ValueError:
            raise WebhookRefused("a timestamp that is not a time") from None
        if abs(self._clock.now().timestamp() - sent) > TOLERANCE:
            raise WebhookRefused("a timestamp too far from now (a replay, or a clock off)")

    def _changes(self, event: Any) -> tuple[TicketChange, ...]:
        if event["table"] == "sys_journal_field":
            entry = event["entry"]
            if entry.get("element") not in {"comments", "work_notes"}:
                return ()
            return (journal_change(_strings(entry), str(event["number"]), self._desk),)
        if event["table"] != "incident":
            raise KeyError("table")
        record = _strings(event["record"])
        if event["operation"] == "insert":
            return (opened_change(record, self._groups, self._desk),)
        changed = event.get("changed") or []
        return tuple(field_change(
            sys_id=record["sys_id"], number=record["number"], field=field,
            count=record["sys_mod_count"],
            value=record["assigned_to.user_name" if field == "assigned_to" else "state"],
            at=record["sys_updated_on"], by=record.get("sys_updated_by"), desk=self._desk,
        ) for field in FIELDS if field in changed)  # fmt: skip


def _strings(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise TypeError("a record that is not an object")
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}
