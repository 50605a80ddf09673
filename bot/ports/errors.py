"""What a backend answers when it cannot do what it was asked: a record it does not have, a
collision, a write whose answer was lost, a capability it lacks (and every capability name)."""

from __future__ import annotations


class NotFoundError(LookupError):
    """An operation named a record the backend does not have (a person, group, device, ticket
    or outbox item). A desk bug or a stale reference, never the user's fault."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"no {kind} {key!r}")
        self.kind = kind
        self.key = key


class ConflictError(Exception):
    """A create that collides with a different existing record (same username or e-mail)."""


class OutcomeUnknown(Exception):
    """A write was sent and its answer was lost (a timeout, a dropped connection): it may or
    may not have taken effect. A backend raises it (or lets `TimeoutError` / `ConnectionError`
    through) instead of guessing; the desk reads the state back before it says either."""


class Unsupported(Exception):
    """The backend cannot do this at all: an identity provider that does not report open
    sessions, a directory whose groups are synced from elsewhere, a check provider without
    push. Retrying will not help and it is nobody's fault: the skill words it honestly, or
    the desk hands the work to a human. `capability` names what is missing, one of the
    names in `CAPABILITIES`."""

    def __init__(self, capability: str, detail: str = "") -> None:
        why = f": {detail}" if detail else ""
        super().__init__(f"the backend does not support {capability}{why}")
        self.capability = capability
        self.detail = detail


class ClearsByItself(Unsupported):
    """A lock no call can lift, because it lifts itself: Entra ID's smart lockout has no
    unlock in Graph and ends after its lockout period. `minutes` is how long that is at
    most, as the backend knows it; the desk tells the person when, and offers a reset."""

    def __init__(self, minutes: int, detail: str = "") -> None:
        super().__init__("unlock", detail or f"the lock clears by itself within {minutes} min")
        self.minutes = minutes


# What a backend may lack, by port: the names `Unsupported` carries and the methods that
# raise it are documented on each port method.
DIRECTORY_CAPABILITIES = frozenset({
    "session_count", "revoke_sessions", "unlock", "lock", "disable", "enable",
    "group_membership", "reset_factors", "create_person", "reset_link", "enrolment_link",
    "set_password",
})  # fmt: skip
DEVICE_CAPABILITIES = frozenset({"install", "uninstall", "device_lock"})
CHECK_CAPABILITIES = frozenset({"push", "sms", "email", "totp", "withdraw"})
CAPABILITIES = DIRECTORY_CAPABILITIES | DEVICE_CAPABILITIES | CHECK_CAPABILITIES
