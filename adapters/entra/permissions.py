"""The least Microsoft Graph application permission each call of the desk needs, so that a
refusal (`Authorization_RequestDenied`) names the one an operator must grant. The order
matters: the first pattern a call matches names its permission."""

from __future__ import annotations

import re

# (methods, path pattern under /v1.0, permission)
PERMISSIONS: tuple[tuple[frozenset[str], re.Pattern[str], str], ...] = tuple(
    (frozenset(methods.split()), re.compile(pattern), permission)
    for methods, pattern, permission in (
        ("GET", r"^/auditLogs/signIns", "AuditLog.Read.All"),
        ("GET", r"^/identityProtection/riskyUsers", "IdentityRiskyUser.Read.All"),
        ("GET DELETE", r"^/users/[^/]+/authentication/", "UserAuthenticationMethod.ReadWrite.All"),
        ("POST DELETE", r"^/groups/[^/]+/members/", "GroupMember.ReadWrite.All"),
        ("GET", r"^/groups", "GroupMember.Read.All"),
        ("GET", r"^/users/[^/]+/memberOf", "GroupMember.Read.All"),
        ("POST", r"^/users/[^/]+/revokeSignInSessions", "User.RevokeSessions.All"),
        ("PATCH", r"^/users/", "User.EnableDisableAccount.All"),
        ("GET", r"^/users", "User.Read.All"),
    )
)


PASSWORD_PERMISSION = ("User-PasswordProfile.ReadWrite.All (and a directory role that may "
                       "reset the person's password, such as Helpdesk Administrator)")  # fmt: skip


def permission_for(method: str, path: str, body: object = None) -> str:
    """The permission a call needs; a whole URL is taken from its `/v1.0/`. A PATCH of a
    user needs what the property it changes needs."""
    if method.upper() == "PATCH" and isinstance(body, dict) and "passwordProfile" in body:
        return PASSWORD_PERMISSION
    path = path.split("?", 1)[0]
    if "/v1.0/" in path:
        path = "/" + path.split("/v1.0/", 1)[1]
    for methods, pattern, permission in PERMISSIONS:
        if method.upper() in methods and pattern.search(path):
            return permission
    return "the permission this call documents"
