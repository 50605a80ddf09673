"""What the shipped business rules (`adapters/servicenow/itdesk_business_rule.js`) post for
a change, as the fake instance runs them: the same JSON, signed the same way (base64 HMAC-SHA256
over "<timestamp>.<body>" with the shared secret), posted to the desk's URL."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import aiohttp

from servers.servicenow_tables import Record, Tables

# the incident fields the incident rule sends (its ITDESK_FIELDS)
FIELDS = ["sys_id", "number", "caller_id", "caller_id.user_name", "caller_id.email",
          "category", "assignment_group.name", "assigned_to.user_name", "urgency", "impact",
          "state", "short_description", "description", "correlation_id", "correlation_display",
          "sys_created_on", "sys_updated_on", "sys_created_by", "sys_updated_by",
          "sys_mod_count"]  # fmt: skip
ENTRY = ("sys_id", "element", "element_id", "value", "sys_created_on", "sys_created_by")


def payload(
    t: Tables, table: str, operation: str, record: Record, changed: list[str]
) -> dict[str, Any] | None:
    """The rule's JSON for a saved record, or None where no rule posts."""
    if table == "incident":
        changed = [f for f in ("state", "assigned_to") if f in changed]
        if operation == "update" and not changed:
            return None
        values = {f: t.value(record, f) for f in FIELDS}
        return {"table": table, "operation": operation, "record": values, "changed": changed}
    if table == "sys_journal_field" and record["element"] in {"comments", "work_notes"}:
        number = t.rows["incident"][record["element_id"]]["number"]
        return {"table": table, "number": number, "entry": {k: record[k] for k in ENTRY}}
    return None


def signed(secret: str, stamp: str, event: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    body = json.dumps(event).encode()
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).digest()
    headers = {
        "Content-Type": "application/json",
        "X-Itdesk-Timestamp": stamp,
        "X-Itdesk-Signature": "sha256=" + base64.b64encode(mac).decode(),
    }
    return headers, body


async def post(url: str, headers: dict[str, str], body: bytes) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=headers) as answer,
    ):
        await answer.read()
