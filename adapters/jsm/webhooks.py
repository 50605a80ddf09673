"""Jira webhooks as the desk's `TicketWebhooks`. A webhook registered with a secret (Jira
admin > System > WebHooks, or the REST API) is signed: `X-Hub-Signature: sha256=<hex HMAC-SHA256
of the raw body, keyed with the secret>` (the WebSub form). The signature is checked, in
constant time, before the body is read as JSON.

Events: `jira:issue_created` (a request raised by someone other than the desk: "opened";
its ticket carries the reporter's e-mail as requester, the desk's username being the
directory's to find), `jira:issue_updated` (its changelog's status and assignee items) and
`comment_created` (public or internal as `jsdPublic` says, or the `sd.public.comment`
property `{"internal": true}` JSM sets on an internal comment). Ids are the feed's."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr, ValidationError

from adapters.jsm.changes import (
    FOLLOWED,
    DeskAccount,
    comment_change,
    field_of,
    item_change,
    opened_change,
)
from adapters.jsm.records import (
    desk_priority,
    desk_status,
    jira_time,
    person_of,
    plain_text,
    request_type_of,
)
from bot.ports import Ticket, TicketChange, WebhookRefused
from bot.settings_tickets import TicketSettings

HEADER = "x-hub-signature"


class JsmWebhooks:
    """Checks and reads the webhooks of a Jira site whose webhook has `secret`; the desk's
    own account is known by `desk` (its writes come back `by_desk`)."""

    def __init__(self, secret: SecretStr, desk: DeskAccount,
                 request_types: Mapping[str, str] | None = None) -> None:  # fmt: skip
        self._secret = secret
        self._desk = desk
        self._queues = {type_id: queue for queue, type_id in (request_types or {}).items()}

    def __repr__(self) -> str:
        return "JsmWebhooks(secret=**********)"

    @classmethod
    def from_settings(cls, settings: TicketSettings, *, desk_account: str | None = None
                      ) -> JsmWebhooks:  # fmt: skip
        assert settings.jsm_webhook_secret is not None, "ITDESK_JSM_WEBHOOK_SECRET is needed"
        desk = DeskAccount(account_id=desk_account, email=settings.jsm_email)
        return cls(settings.jsm_webhook_secret, desk, settings.jsm_request_types)

    def parse(self, headers: Mapping[str, str], body: bytes) -> tuple[TicketChange, ...]:
        given = next((v for k, v in headers.items() if k.lower() == HEADER), "")
        method, _, signature = given.partition("=")
        expected = hmac.new(self._secret.get_secret_value().encode(), body, hashlib.sha256)
        if method != "sha256" or not hmac.compare_digest(signature, expected.hexdigest()):
            raise WebhookRefused("the call is not signed by the Jira webhook's secret")
        try:
            payload = json.loads(body)
            return self._changes(payload)
        except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
            raise WebhookRefused(f"not a Jira webhook body ({type(exc).__name__})") from None

    def _changes(self, payload: dict[str, Any]) -> tuple[TicketChange, ...]:
        event = payload["webhookEvent"]
        issue = payload["issue"]
        key, fields = str(issue["key"]), issue.get("fields") or {}
        at = datetime.fromtimestamp(int(payload.get("timestamp", 0)) / 1000, UTC)
        if event == "comment_created":
            comment = payload["comment"]
            return (comment_change(key, comment, jira_time(comment["created"]), self._desk),)
        if event == "jira:issue_created":
            creator = fields.get("creator") or payload.get("user")
            if self._desk.wrote(creator):
                return ()
            return (opened_change(issue, jira_time(fields["created"]), self._ticket(issue)),)
        if event != "jira:issue_updated" or not payload.get("changelog"):
            return ()
        changelog = payload["changelog"]
        changes = []
        for item in changelog.get("items") or []:
            if field_of(item) not in FOLLOWED:
                continue
            changes.append(item_change(str(issue["id"]), key, str(changelog["id"]), item, at=at,
                                       author=payload.get("user"), desk=self._desk,
                                       **self._value(item, fields)))  # fmt: skip
        return tuple(changes)

    def _value(self, item: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        if field_of(item) == "status":
            now = fields.get("status") or {}
            category = (now.get("statusCategory") or {}).get("key", "new")
            if str(now.get("id")) != str(item.get("to")):  # changed again since: by name only
                category = "new"
            return {"status": desk_status(str(item.get("toString", "")), str(category))}
        if not item.get("to"):
            return {"assignee": None}
        current = fields.get("assignee") or {}
        same = current.get("accountId") == item.get("to")
        return {"assignee": (same and current.get("emailAddress")) or str(item["to"])}

    def _ticket(self, issue: dict[str, Any]) -> Ticket:
        fields = issue.get("fields") or {}
        status = fields.get("status") or {}
        type_id = request_type_of(fields)
        return Ticket(
            id=str(issue["key"]), requester=person_of(fields.get("reporter")) or "",
            queue=self._queues.get(type_id or "", "other"),
            priority=desk_priority((fields.get("priority") or {}).get("name")),
            status=desk_status(str(status.get("name", "")),
                               str((status.get("statusCategory") or {}).get("key", "new"))),
            summary=str(fields.get("summary") or ""),
            details=plain_text(fields.get("description")),
            created_at=jira_time(fields["created"]), updated_at=jira_time(fields["updated"]),
        )  # fmt: skip
