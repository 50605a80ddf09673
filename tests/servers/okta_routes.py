"""The fake Okta's Management API operations, as Okta documents their requests, answers and
refusals: users (search, lifecycle), groups and memberships, sessions and the System Log,
each list paged by `Link` headers with a small page size (factors: `servers.okta_factors`)."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from servers.okta_search import compile_expression
from servers.okta_state import OktaOrgState, Refused, iso

Json = dict[str, Any]
Handler = Callable[[web.Request], Any]
BODY = web.RequestKey("body", object)  # the JSON a call carried
NOT_ALLOWED = (403, "E0000038", "This operation is not allowed in the user's current status.")


def error_body(code: str, summary: str, causes: tuple[str, ...] = ()) -> Json:
    return {"errorCode": code, "errorSummary": summary, "errorLink": code,
            "errorId": "oae" + secrets.token_hex(11),
            "errorCauses": [{"errorSummary": c} for c in causes]}  # fmt: skip


class OktaRoutes:
    """The handlers over `state`, each run under `lock`; links point at `base()`."""

    def __init__(self, state: OktaOrgState, lock: threading.Lock, base: Callable[[], str],
                 page_size: int) -> None:  # fmt: skip
        self.state, self.lock, self.base, self.page_size = state, lock, base, page_size

    def register(self, app: web.Application) -> None:
        u, g = "/api/v1/users", "/api/v1/groups"
        routes = [
            ("GET", u, self.list_users), ("GET", u + "/{id}", self.get_user),
            ("GET", u + "/{id}/groups", self.user_groups),
            ("POST", u + "/{id}/lifecycle/{op}", self.lifecycle),
            ("DELETE", u + "/{id}/sessions", self.end_sessions),
            ("GET", g, self.list_groups), ("GET", g + "/{gid}", self.get_group),
            ("GET", g + "/{gid}/users", self.group_users),
            ("PUT", g + "/{gid}/users/{id}", self.add_member),
            ("DELETE", g + "/{gid}/users/{id}", self.remove_member),
            ("GET", "/api/v1/logs", self.logs),
        ]  # fmt: skip
        self.add(app, routes)

    def add(self, app: web.Application, routes: list[tuple[str, str, Handler]]) -> None:
        for method, path, handler in routes:
            app.router.add_route(method, path, self._guarded(handler))

    def _guarded(self, handler: Handler) -> Handler:
        async def run(request: web.Request) -> web.StreamResponse:
            if request.body_exists:
                try:
                    request[BODY] = await request.json()
                except ValueError:
                    summary = "The request body was not well-formed."
                    return web.json_response(error_body("E0000003", summary), status=400)
            with self.lock:
                try:
                    answer: web.StreamResponse = handler(request)
                except Refused as no:
                    return web.json_response(error_body(no.code, no.summary), status=no.status)
                except SyntaxError as bad:
                    summary = f"Invalid search criteria. {bad}"
                    return web.json_response(error_body("E0000031", summary), status=400)
            return answer

        return run

    # --- users ------------------------------------------------------------------------------

    def list_users(self, request: web.Request) -> web.Response:
        users = list(self.state.users.values())
        expression = request.query.get("search") or request.query.get("filter")
        if expression:
            match = compile_expression(expression)
            users = [u for u in users if match(u)]
        else:  # a plain list leaves deactivated users out
            users = [u for u in users if u["status"] != "DEPROVISIONED"]
        return self._page(request, users, lambda u: str(u["id"]))

    def get_user(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.user(request.match_info["id"]))

    def user_groups(self, request: web.Request) -> web.Response:
        user = self.state.user(request.match_info["id"])
        return self._page(request, self.state.groups_of(user["id"]), lambda g: str(g["id"]))

    def lifecycle(self, request: web.Request) -> web.Response:
        user, op = self.state.user(request.match_info["id"]), request.match_info["op"]
        status, ad = user["status"], user["credentials"]["provider"]["type"] != "OKTA"
        if op == "unlock":
            if ad:
                raise Refused(403, "E0000032", "Unlock is not allowed for this user.")
            if status not in {"LOCKED_OUT", "ACTIVE"}:
                raise Refused(*NOT_ALLOWED)
            user["status"] = "ACTIVE"
        elif op == "suspend":
            if status != "ACTIVE":
                raise Refused(400, "E0000001", "Api validation failed: Cannot suspend a user "
                              "that is not active")  # fmt: skip
            user["status"] = "SUSPENDED"
        elif op == "unsuspend":
            if status != "SUSPENDED":
                raise Refused(400, "E0000001", "Api validation failed: Cannot unsuspend a user "
                              "that is not suspended")  # fmt: skip
            user["status"] = "ACTIVE"
        elif op == "reset_password":
            if ad or status in {"SUSPENDED", "DEPROVISIONED", "STAGED"}:
                raise Refused(*NOT_ALLOWED)
            user["status"] = "RECOVERY"
            if request.query.get("sendEmail", "true").lower() == "true":
                self.state.reset_mails.append(user["profile"]["email"])
                return web.json_response({})
            token = secrets.token_urlsafe(16)
            return web.json_response({"resetPasswordUrl": f"{self.base()}/reset/{token}"})
        elif op == "reset_factors":
            self.state.factors[user["id"]] = []
        else:
            raise Refused(404, "E0000007", f"Not found: Resource not found: {op}")
        user["statusChanged"] = user["lastUpdated"] = iso(self.state.clock.now())
        return web.Response(status=200)

    def end_sessions(self, request: web.Request) -> web.Response:
        self.state.sessions[self.state.user(request.match_info["id"])["id"]] = 0
        return web.Response(status=204)

    # --- groups -----------------------------------------------------------------------------

    def list_groups(self, request: web.Request) -> web.Response:
        groups = list(self.state.groups.values())
        expression = request.query.get("search") or request.query.get("filter")
        if expression:
            match = compile_expression(expression)
            groups = [g for g in groups if match(g)]
        elif request.query.get("q"):
            q = request.query["q"].casefold()
            groups = [g for g in groups if g["profile"]["name"].casefold().startswith(q)]
        return self._page(request, groups, lambda g: str(g["id"]))

    def get_group(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.group(request.match_info["gid"]))

    def group_users(self, request: web.Request) -> web.Response:
        group = self.state.group(request.match_info["gid"])
        users = [self.state.users[m] for m in self.state.members[group["id"]]]
        return self._page(request, users, lambda u: str(u["id"]))

    def add_member(self, request: web.Request) -> web.Response:
        group, user = self._membership(request)
        if user["id"] not in self.state.members[group["id"]]:
            self.state.members[group["id"]].append(user["id"])
        return web.Response(status=204)

    def remove_member(self, request: web.Request) -> web.Response:
        group, user = self._membership(request)
        if user["id"] in self.state.members[group["id"]]:
            self.state.members[group["id"]].remove(user["id"])
        return web.Response(status=204)

    def _membership(self, request: web.Request) -> tuple[Json, Json]:
        group = self.state.group(request.match_info["gid"])
        user = self.state.user(request.match_info["id"])
        if group["type"] != "OKTA_GROUP":
            # Okta documents the refusal, not its code: a 403 as for other forbidden changes
            raise Refused(403, "E0000038", f"Cannot modify the members of a {group['type']} "
                          "group: they are managed by the app that imported it")  # fmt: skip
        return group, user

    # --- the System Log ---------------------------------------------------------------------

    def logs(self, request: web.Request) -> web.Response:
        q = request.query
        events = list(self.state.logs)
        if "since" in q:
            since = datetime.fromisoformat(q["since"])
            events = [e for e in events if datetime.fromisoformat(e["published"]) >= since]
        if "filter" in q:
            match = compile_expression(q["filter"])
            events = [e for e in events if match(e)]
        if q.get("sortOrder", "ASCENDING") == "DESCENDING":
            events.reverse()
        # a poll (no `until`) always names a next page, even past the newest event
        return self._page(request, events, lambda e: str(e["uuid"]), always_next="until" not in q)

    # --- paging -----------------------------------------------------------------------------

    def _page(self, request: web.Request, items: list[Json], key: Callable[[Json], str], *,
              always_next: bool = False) -> web.Response:  # fmt: skip
        limit = min(int(request.query.get("limit", self.page_size)), self.page_size)
        after = request.query.get("after")
        keys = [key(i) for i in items]
        start = keys.index(after) + 1 if after in keys else 0
        page = items[start : start + limit]
        response = web.json_response(page)
        links = [f'<{self.base()}{request.path_qs}>; rel="self"']
        more = start + limit < len(items)
        if more or always_next:
            last = key(page[-1]) if page else after
            query = {k: v for k, v in request.query.items() if k != "after"}
            if last:
                query["after"] = last
            links.append(f'<{self.base()}{request.path}?{urlencode(query)}>; rel="next"')
        response.headers["Link"] = ", ".join(links)
        return response
