"""The fake ServiceNow's Table API answers: lists with paging `Link` headers and
`X-Total-Count`, one record, a create (201) and an update (PATCH or PUT), each in a
`{"result": ...}` envelope, references as `{"link", "value"}` (or their display value, with
`sysparm_display_value`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from aiohttp import web

from servers.servicenow_tables import REFERENCES, Record, Tables

if TYPE_CHECKING:
    from servers.servicenow import FakeServiceNow

DISPLAY = {"sys_user": "name", "sys_user_group": "name"}


def error(status: int, message: str, detail: str = "") -> web.Response:
    """ServiceNow's refusal body."""
    body = {"error": {"message": message, "detail": detail}, "status": "failure"}
    return web.json_response(body, status=status)


async def answer(fake: FakeServiceNow, request: web.Request, table: str, user: str) -> web.Response:
    t, sys_id = fake.tables, request.match_info.get("sys_id")
    q = request.query
    fields = [f for f in q.get("sysparm_fields", "").split(",") if f]
    display = q.get("sysparm_display_value", "false")
    base = f"{request.scheme}://{request.host}"
    if sys_id is not None and sys_id not in t.rows[table]:
        return error(
            404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"
        )
    if request.method == "GET" and sys_id is None:
        return _page(fake, request, table, fields, display, base)
    if request.method == "GET" and sys_id is not None:
        record = t.rows[table][sys_id]
        status = 200
    elif request.method == "POST" and sys_id is None:
        record, status = t.insert(table, await _body(request), user), 201
    elif request.method in {"PATCH", "PUT"} and sys_id is not None:
        record, status = t.update(table, sys_id, await _body(request), user), 200
    else:
        return error(405, "Method not Supported", f"{request.method} {request.path}")
    return web.json_response({"result": render(t, record, fields, display, base)}, status=status)


def _page(fake: FakeServiceNow, request: web.Request, table: str, fields: list[str],
          display: str, base: str) -> web.Response:  # fmt: skip
    q = request.query
    found = fake.tables.query(table, q.get("sysparm_query", ""))
    limit = min(int(q.get("sysparm_limit", "10000")), fake.page_size)
    offset = int(q.get("sysparm_offset", "0"))
    page = found[offset : offset + limit]
    result = [render(fake.tables, r, fields, display, base) for r in page]
    response = web.json_response({"result": result})
    response.headers["X-Total-Count"] = str(len(found))

    def link(at: int, rel: str) -> str:
        params = {**q, "sysparm_limit": str(limit), "sysparm_offset": str(at)}
        return f'<{base}{request.path}?{urlencode(params)}>;rel="{rel}"'

    links = [link(0, "first")]
    if offset > 0:
        links.append(link(max(offset - limit, 0), "prev"))
    if offset + limit < len(found):
        links.append(link(offset + limit, "next"))
    links.append(link(max((len(found) - 1) // limit * limit, 0), "last"))
    response.headers["Link"] = ",".join(links)
    return response


def render(t: Tables, record: Record, fields: list[str], display: str, base: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in fields or list(record):
        value = t.value(record, name)
        if name not in REFERENCES or not value:
            out[name] = value
            continue
        target = REFERENCES[name]
        shown = t.rows[target].get(value, {}).get(DISPLAY[target], "")
        link = f"{base}/api/now/table/{target}/{value}"
        if display == "true":
            out[name] = shown
        elif display == "all":
            out[name] = {"display_value": shown, "value": value, "link": link}
        else:
            out[name] = {"link": link, "value": value}
    return out


async def _body(request: web.Request) -> dict[str, Any]:
    body = json.loads(await request.read() or b"{}")
    if not isinstance(body, dict):
        raise ValueError("a body that is not an object")
    return body
