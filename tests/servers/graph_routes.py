"""The Graph calls the fake answers, under `/v1.0`: users (by id or UPN, and filtered),
managers, direct reports, memberOf, groups and their members and owners (`members/$ref`),
authentication methods (listed, and deleted per type), revokeSignInSessions, PATCH of
`accountEnabled` and `passwordProfile`, sign-in logs and risky users. Each handler names
the permissions that allow it (any one of them, as the token's `roles` hold them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from servers.graph_protocol import DENIED, GraphAnswer, Handler, guard, not_found, page, select

if TYPE_CHECKING:
    from servers.graph import FakeGraph

Json = dict[str, Any]
ON_PREMISES = ("Unable to update the specified properties for on-premises mastered Directory "
               "Sync objects or objects currently undergoing migration.")  # fmt: skip
USER = "#microsoft.graph.user"
GROUP = "#microsoft.graph.group"
READ_USERS = ("User.Read.All", "User.ReadWrite.All")
READ_GROUPS = ("GroupMember.Read.All", "GroupMember.ReadWrite.All", "Group.Read.All")
READ_METHODS = ("UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All")
COLLECTIONS = {
    "microsoftAuthenticatorMethods": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
    "phoneMethods": "#microsoft.graph.phoneAuthenticationMethod",
    "softwareOathMethods": "#microsoft.graph.softwareOathAuthenticationMethod",
    "emailMethods": "#microsoft.graph.emailAuthenticationMethod",
}


def routes(fake: FakeGraph) -> list[web.RouteDef]:
    t = fake.tenant

    def user_of(request: web.Request) -> Json:
        user = t.find_user(request.match_info["user"])
        if user is None:
            raise not_found(request.match_info["user"])
        return user

    def group_of(request: web.Request) -> Json:
        group = t.groups.get(request.match_info["group"])
        if group is None:
            raise not_found(request.match_info["group"])
        return group

    def graph(*allowed: str) -> Callable[[Handler], Handler]:
        return guard(fake, *allowed)

    @graph(*READ_USERS)
    async def users(request: web.Request) -> web.Response:
        return web.json_response(page(fake, request, list(t.users.values())))

    @graph(*READ_USERS)
    async def user(request: web.Request) -> web.Response:
        return web.json_response(select(user_of(request), request.query.get("$select"), None))

    @graph("User.ReadWrite.All", "User-PasswordProfile.ReadWrite.All",
           "User.EnableDisableAccount.All")  # fmt: skip
    async def patch_user(request: web.Request) -> web.Response:
        found, change = user_of(request), await request.json()
        needed = {
            "passwordProfile": {"User.ReadWrite.All", "User-PasswordProfile.ReadWrite.All"},
            "accountEnabled": {"User.ReadWrite.All", "User.EnableDisableAccount.All"},
        }
        if any(not (fake.granted(request) or set()) & needed.get(k, {"User.ReadWrite.All"})
               for k in change):  # fmt: skip
            raise GraphAnswer(403, "Authorization_RequestDenied", DENIED)
        if found.get("onPremisesSyncEnabled") and {"accountEnabled", "passwordProfile"} & set(
            change
        ):
            raise GraphAnswer(400, "Request_BadRequest", ON_PREMISES)
        if "passwordProfile" in change:
            profile = change["passwordProfile"]
            if len(str(profile.get("password", ""))) < 8:
                raise GraphAnswer(
                    400,
                    "Request_BadRequest",
                    "The specified password does not comply with password "
                    "complexity requirements. Please provide a different password.",
                )
            t.passwords[found["id"]] = dict(profile)
        if "accountEnabled" in change:
            found["accountEnabled"] = bool(change["accountEnabled"])
        return web.Response(status=204)

    @graph(*READ_USERS)
    async def manager(request: web.Request) -> web.Response:
        boss = t.managers.get(user_of(request)["id"])
        if boss is None:
            raise not_found("manager")
        answer = select(t.users[boss], request.query.get("$select"), USER)
        return web.json_response(answer)

    @graph(*READ_USERS)
    async def direct_reports(request: web.Request) -> web.Response:
        uid = user_of(request)["id"]
        reports = [t.users[u] for u, m in t.managers.items() if m == uid]
        return web.json_response(page(fake, request, reports, USER))

    @graph(*READ_GROUPS)
    async def member_of(request: web.Request) -> web.Response:
        return web.json_response(page(fake, request, t.member_of(user_of(request)["id"]), GROUP))

    @graph("User.RevokeSessions.All", "User.ReadWrite.All")
    async def revoke(request: web.Request) -> web.Response:
        uid = user_of(request)["id"]
        t.revocations[uid] = t.revocations.get(uid, 0) + 1
        return web.json_response({"@odata.context": "$metadata#Edm.Boolean", "value": True})

    @graph(*READ_METHODS)
    async def methods(request: web.Request) -> web.Response:
        return web.json_response(page(fake, request, t.methods[user_of(request)["id"]]))

    @graph("UserAuthenticationMethod.ReadWrite.All")
    async def delete_method(request: web.Request) -> web.Response:
        uid, kind = user_of(request)["id"], COLLECTIONS.get(request.match_info["collection"])
        listed = t.methods[uid]
        method = next((m for m in listed if m["id"] == request.match_info["method"]
                       and m["@odata.type"] == kind), None)  # fmt: skip
        if method is None:
            raise not_found(request.match_info["method"])
        listed.remove(method)
        return web.Response(status=204)

    @graph(*READ_GROUPS)
    async def groups(request: web.Request) -> web.Response:
        return web.json_response(page(fake, request, list(t.groups.values())))

    @graph(*READ_GROUPS)
    async def members(request: web.Request) -> web.Response:
        return web.json_response(page(fake, request, t.members(group_of(request)["id"]), USER))

    @graph(*READ_GROUPS)
    async def owners(request: web.Request) -> web.Response:
        listed = [t.users[u] for u in t.owners.get(group_of(request)["id"], [])]
        return web.json_response(page(fake, request, listed, USER))

    @graph("GroupMember.ReadWrite.All")
    async def add_member(request: web.Request) -> web.Response:
        group, ref = group_of(request), await request.json()
        uid = str(ref.get("@odata.id", "")).rsplit("/", 1)[-1]
        if uid not in t.users:
            raise not_found(uid)
        if group.get("onPremisesSyncEnabled"):
            raise GraphAnswer(400, "Request_BadRequest", ON_PREMISES)
        if not t.join(group["id"], uid):
            raise GraphAnswer(
                400,
                "Request_BadRequest",
                "One or more added object references "
                "already exist for the following modified properties: 'members'.",
            )
        return web.Response(status=204)

    @graph("GroupMember.ReadWrite.All")
    async def remove_member(request: web.Request) -> web.Response:
        group, uid = group_of(request), request.match_info["member"]
        if (group["id"], uid) not in t.memberships:
            raise not_found(uid)
        t.memberships.remove((group["id"], uid))
        return web.Response(status=204)

    def licensed(source: str) -> None:
        if source in fake.unlicensed:
            raise GraphAnswer(
                403,
                "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                "Neither tenant is B2C or tenant doesn't have premium license",
            )

    @graph("AuditLog.Read.All")
    async def sign_ins(request: web.Request) -> web.Response:
        licensed("signIns")
        newest = sorted(t.sign_ins, key=lambda s: s["createdDateTime"], reverse=True)
        return web.json_response(page(fake, request, newest))

    @graph("IdentityRiskyUser.Read.All", "IdentityRiskyUser.ReadWrite.All")
    async def risky_users(request: web.Request) -> web.Response:
        licensed("riskyUsers")
        return web.json_response(page(fake, request, list(t.risky_users)))

    v = "/v1.0"
    return [
        web.get(f"{v}/users", users),
        web.get(f"{v}/users/{{user}}", user),
        web.patch(f"{v}/users/{{user}}", patch_user),
        web.get(f"{v}/users/{{user}}/manager", manager),
        web.get(f"{v}/users/{{user}}/directReports", direct_reports),
        web.get(f"{v}/users/{{user}}/memberOf", member_of),
        web.post(f"{v}/users/{{user}}/revokeSignInSessions", revoke),
        web.get(f"{v}/users/{{user}}/authentication/methods", methods),
        web.delete(f"{v}/users/{{user}}/authentication/{{collection}}/{{method}}", delete_method),
        web.get(f"{v}/groups", groups),
        web.get(f"{v}/groups/{{group}}/members", members),
        web.get(f"{v}/groups/{{group}}/owners", owners),
        web.post(f"{v}/groups/{{group}}/members/$ref", add_member),
        web.delete(f"{v}/groups/{{group}}/members/{{member}}/$ref", remove_member),
        web.get(f"{v}/auditLogs/signIns", sign_ins),
        web.get(f"{v}/identityProtection/riskyUsers", risky_users),
    ]
