"""Several check providers in the order ITDESK_CHECKS names them (okta_verify, duo, sms,
email), as one `Checks`: each person is reached by the first provider that has a factor of
theirs, and the others stand behind it. Check ids carry their provider's name, so a result,
a code or a withdrawal goes back to the provider that issued the check."""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from bot.ports import (
    CheckRequest,
    Checks,
    CheckState,
    IssuedCheck,
    NotFoundError,
    Reach,
    Unsupported,
)

log = structlog.get_logger("itdesk.checks")
SEPARATOR = "~"


class CheckChain:
    def __init__(self, providers: Sequence[tuple[str, Checks]]) -> None:
        if not providers:
            raise ValueError("a chain of check providers needs at least one")
        names = [name for name, _ in providers]
        if len(set(names)) != len(names) or any(SEPARATOR in n or not n for n in names):
            raise ValueError(f"check provider names must be distinct and plain: {names}")
        self._providers = dict(providers)

    def __repr__(self) -> str:
        return f"CheckChain({', '.join(self._providers)})"

    async def reachable(self, username: str) -> tuple[Reach, ...]:
        """Every provider's reach for the person, in the chain's order: the first is what
        step-up sends, the rest what it falls back on."""
        found: list[Reach] = []
        for name in self._providers:
            found.extend(await self._reach(name, username))
        return tuple(found)

    async def _reach(self, name: str, username: str) -> tuple[Reach, ...]:
        """A provider that cannot be asked now reaches nobody: the next one stands in."""
        try:
            return await self._providers[name].reachable(username)
        except Exception as exc:
            log.warning("checks.provider_unreachable", provider=name, error=type(exc).__name__)
            return ()

    async def issue(self, request: CheckRequest) -> IssuedCheck:
        """Issued by the first provider that reaches the person on the request's factor
        (the order `reachable` lists them in); one that turns out not to (`Unsupported`)
        passes it to the next."""
        refused: Unsupported | None = None
        for name, checks in self._providers.items():
            reach = await self._reach(name, request.username)
            if not any(r.factor == request.factor for r in reach):
                continue
            try:
                issued = await checks.issue(request)
            except Unsupported as exc:  # nothing was sent
                refused = refused or exc
                continue
            return issued.model_copy(update={"id": f"{name}{SEPARATOR}{issued.id}"})
        raise refused or Unsupported(
            request.factor, f"no provider reaches {request.username} by it"
        )

    async def result(self, check_id: str) -> CheckState:
        checks, own = self._route(check_id)
        return await checks.result(own)

    async def verify_code(self, check_id: str, code: str) -> bool:
        checks, own = self._route(check_id)
        return await checks.verify_code(own, code)

    async def withdraw(self, check_id: str) -> None:
        checks, own = self._route(check_id)
        await checks.withdraw(own)

    def _route(self, check_id: str) -> tuple[Checks, str]:
        name, _, own = check_id.partition(SEPARATOR)
        checks = self._providers.get(name)
        if checks is None or not own:
            raise NotFoundError("check", check_id)
        return checks, own
