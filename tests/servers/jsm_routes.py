"""The fake JSM site's REST routes: the servicedesk API (requests, comments, the service
desk) and the platform API (issues, properties, transitions, assignee, changelog, statuses,
users, JQL search), answered as Atlassian documents them, paged by `page_size`."""

from __future__ import annotations

import threading
from typing import Any

from aiohttp import web

from servers.jsm_state import PRIORITIES, STATUSES, TRANSITION_NAMES, Issue, JsmSiteState

D = "/rest/servicedeskapi"
P = "/rest/api/3"


def transitions_of(status: str) -> list[dict[str, Any]]:
    """Every other status is one transition away (named as JSM's IT workflow names them)."""
    return [{"id": f"9{to}", "name": TRANSITION_NAMES[to], "to": {"id": to, "name": name,
             "statusCategory": {"key": category}}}
            for to, (name, category) in STATUSES.items() if to != status]  # fmt: skip


def _missing(desk: bool, what: str) -> web.Response:
    body = {"errorMessage": f"{what} does not exist"} if desk else {
        "errorMessages": [f"{what} does not exist or you do not have permission to see it."],
        "errors": {}}  # fmt: skip
    return web.json_response(body, status=404)


class JsmRoutes:
    def __init__(self, state: JsmSiteState, lock: threading.Lock, page_size: int, desk: str
                 ) -> None:  # fmt: skip
        self.s = state
        self.lock = lock
        self.page = page_size
        self.desk = desk

    def register(self, app: web.Application) -> None:
        r = app.router
        r.add_get(f"{P}/myself", self.myself)
        r.add_get(f"{P}/status", self.statuses)
        r.add_get(f"{P}/user/search", self.user_search)
        r.add_get(f"{P}/user", self.user)
        r.add_get(f"{P}/search/jql", self.search)
        r.add_get(f"{P}/issue/{{key}}", self.issue)
        r.add_put(f"{P}/issue/{{key}}", self.edit)
        r.add_put(f"{P}/issue/{{key}}/properties/{{prop}}", self.set_property)
        r.add_get(f"{P}/issue/{{key}}/transitions", self.transitions)
        r.add_post(f"{P}/issue/{{key}}/transitions", self.do_transition)
        r.add_put(f"{P}/issue/{{key}}/assignee", self.assignee)
        r.add_get(f"{P}/issue/{{key}}/changelog", self.changelog)
        r.add_get(f"{D}/servicedesk/{{id}}", self.servicedesk)
        r.add_post(f"{D}/request", self.create)
        r.add_get(f"{D}/request", self.requests)
        r.add_get(f"{D}/request/{{key}}", self.request)
        r.add_get(f"{D}/request/{{key}}/comment", self.comments)
        r.add_post(f"{D}/request/{{key}}/comment", self.add_comment)

    def _issue(self, request: web.Request) -> Issue | None:
        return self.s.issues.get(request.match_info["key"])

    def _desk_page(self, request: web.Request, values: list[Any]) -> web.Response:
        start, limit = int(request.query.get("start", 0)), int(request.query.get("limit", 50))
        size = min(limit, self.page)
        chunk = values[start : start + size]
        return web.json_response(
            {
                "start": start,
                "limit": size,
                "size": len(chunk),
                "isLastPage": start + size >= len(values),
                "values": chunk,
            }
        )

    def _platform_page(self, request: web.Request, values: list[Any]) -> web.Response:
        start = int(request.query.get("startAt", 0))
        size = min(int(request.query.get("maxResults", 50)), self.page)
        chunk = values[start : start + size]
        return web.json_response(
            {
                "startAt": start,
                "maxResults": size,
                "total": len(values),
                "isLast": start + size >= len(values),
                "values": chunk,
            }
        )

    async def myself(self, request: web.Request) -> web.Response:
        with self.lock:
            return web.json_response(self.s.users[self.desk])

    async def statuses(self, request: web.Request) -> web.Response:
        return web.json_response([self.s.status_of(i) for i in STATUSES])

    async def user_search(self, request: web.Request) -> web.Response:
        query = request.query.get("query", "").lower()
        with self.lock:
            found = [self.s.user(a) for a, u in self.s.users.items()
                     if query and query in u["emailAddress"].lower()]  # fmt: skip
        return web.json_response(found)

    async def user(self, request: web.Request) -> web.Response:
        with self.lock:
            account = request.query.get("accountId", "")
            if account not in self.s.users:
                return _missing(False, "The user")
            return web.json_response(self.s.user(account))

    async def search(self, request: web.Request) -> web.Response:
        q = request.query
        with self.lock:
            try:
                found = self.s.search(q["jql"])
            except ValueError as exc:
                return web.json_response({"errorMessages": [str(exc)], "errors": {}}, status=400)
            start = int(q.get("nextPageToken", 0))
            size = min(int(q.get("maxResults", 50)), self.page)
            chunk = [
                self.s.issue_json(
                    i, q.get("fields", ""), changelog="changelog" in q.get("expand", "")
                )
                for i in found[start : start + size]
            ]
        body: dict[str, Any] = {"issues": chunk, "isLast": start + size >= len(found)}
        if start + size < len(found):
            body["nextPageToken"] = str(start + size)
        return web.json_response(body)

    async def issue(self, request: web.Request) -> web.Response:
        with self.lock:
            issue = self._issue(request)
            if issue is None:
                return _missing(False, "Issue")
            q = request.query
            return web.json_response(self.s.issue_json(issue, q.get("fields", ""),
                                                       q.get("properties", "")))  # fmt: skip

    async def edit(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self.lock:
            issue = self._issue(request)
            if issue is None:
                return _missing(False, "Issue")
            name = ((body.get("fields") or {}).get("priority") or {}).get("name")
            if name not in PRIORITIES:
                return web.json_response({"errorMessages": [], "errors": {
                    "priority": "Specify a valid priority"}}, status=400)  # fmt: skip
            if name != issue.priority:
                self.s.prioritise(issue, self.desk, name)
        return web.Response(status=204)

    async def set_property(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self.lock:
            issue = self._issue(request)
            if issue is None:
                return _missing(False, "Issue")
            created = request.match_info["prop"] not in issue.properties
            issue.properties[request.match_info["prop"]] = body
        return web.Response(status=201 if created else 200)

    async def transitions(self, request: web.Request) -> web.Response:
        with self.lock:
            issue = self._issue(request)
            if issue is None:
                return _missing(False, "Issue")
            return web.json_response({"transitions": transitions_of(issue.status)})

    async def do_transition(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self.lock:
            issue = self._issue(request)
            if issue is None:
                return _missing(False, "Issue")
            wanted = str((body.get("transition") or {}).get("id"))
            to = next((t["to"]["id"] for t in transitions_of(issue.status) if t["id"] == wanted),
                      None)  # fmt: skip
            if to is None:
                return web.json_response({"errorMessages": ["Transition id is not valid."],
                                          "errors": {}}, status=400)  # fmt: skip
            self.s.transition(issue, self.desk, to)
        return web.Response(status=204)

    async def assignee(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self.lock:
            issue = self._issue(request)
            if issue is None:
                return _missing(False, "Issue")
            account = body.get("accountId")
            if account is not None and account not in self.s.users:
                return web.json_response({"errorMessages": [], "errors": {
                    "assignee": "User does not exist"}}, status=400)  # fmt: skip
            if account != issue.assignee:
                self.s.assign(issue, self.desk, account)
        return web.Response(status=204)

    async def changelog(self, request: web.Request) -> web.Response:
        with self.lock:
            issue = self._issue(request)
            if issue is None:
                return _missing(False, "Issue")
            return self._platform_page(request, list(issue.histories))

    async def servicedesk(self, request: web.Request) -> web.Response:
        if request.match_info["id"] != self.s.desk_id:
            return _missing(True, "The service desk")
        return web.json_response(
            {
                "id": self.s.desk_id,
                "projectId": "10000",
                "projectName": "IT Support",
                "projectKey": self.s.project,
            }
        )

    async def create(self, request: web.Request) -> web.Response:
        body = await request.json()
        values = body.get("requestFieldValues") or {}
        with self.lock:
            on_behalf = body.get("raiseOnBehalfOf")
            if str(body.get("serviceDeskId")) != self.s.desk_id:
                return _missing(True, "The service desk")
            if body.get("requestTypeId") not in self.s.request_types:
                return web.json_response({"errorMessage": "The request type does not exist"},
                                         status=400)  # fmt: skip
            if on_behalf not in self.s.users or not values.get("summary"):
                return web.json_response({"errorMessage": "Your request could not be created."},
                                         status=400)  # fmt: skip
            priority = (values.get("priority") or {}).get("name", "Medium")
            issue = self.s.create(str(body["requestTypeId"]), on_behalf, values["summary"],
                                  values.get("description", ""), priority, self.desk)  # fmt: skip
            return web.json_response(self.s.request_json(issue), status=201)

    async def requests(self, request: web.Request) -> web.Response:
        q = request.query
        with self.lock:
            found = [self.s.request_json(i) for i in reversed(self.s.issues.values())
                     if q.get("requestTypeId") in {None, i.request_type}]  # fmt: skip
            return self._desk_page(request, found)

    async def request(self, request: web.Request) -> web.Response:
        with self.lock:
            issue = self._issue(request)
            if issue is None:
                return _missing(True, "The request")
            return web.json_response(self.s.request_json(issue))

    async def comments(self, request: web.Request) -> web.Response:
        q = request.query
        with self.lock:
            issue = self._issue(request)
            if issue is None:
                return _missing(True, "The request")
            public, internal = (
                q.get("public", "true") == "true",
                q.get("internal", "true") == "true",
            )
            shown = [self.s.desk_comment(c) for c in issue.comments
                     if (public if c["public"] else internal)]  # fmt: skip
            return self._desk_page(request, shown)

    async def add_comment(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self.lock:
            issue = self._issue(request)
            if issue is None:
                return _missing(True, "The request")
            made = self.s.comment(issue, self.desk, str(body["body"]), bool(body["public"]))
            return web.json_response(self.s.desk_comment(made), status=201)
