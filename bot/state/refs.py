"""Button references: the opaque token a button carries. The token names a record the desk
keeps in Redis (what the button does, on which case, and who may press it); nothing in the
button itself is trusted."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.models import Role
from bot.store import Store


class ButtonRef(BaseModel):
    """What a button means, kept server-side."""

    model_config = ConfigDict(extra="forbid")

    token: str
    action: str
    case_id: str | None = None
    allowed: list[str] | None = None  # usernames who may press it; None: anyone with `role`
    role: Role | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    expires_at: datetime | None = None


class NewRef(BaseModel):
    """A button to mint: a `ButtonRef` without its token yet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: str
    case_id: str | None = None
    allowed: list[str] | None = None
    role: Role | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    expires_at: datetime | None = None


class ButtonRefs:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def mint(
        self,
        action: str,
        *,
        case_id: str | None = None,
        allowed: list[str] | None = None,
        role: Role | None = None,
        data: dict[str, Any] | None = None,
        expires_at: datetime | None = None,
    ) -> str:
        wanted = NewRef(action=action, case_id=case_id, allowed=allowed, role=role,
                        data=data or {}, expires_at=expires_at)  # fmt: skip
        [token] = await self.mint_all([wanted])
        return token

    async def mint_all(self, wanted: Sequence[NewRef]) -> list[str]:
        """Mint a card's buttons at once: their tokens, in order."""
        refs = [ButtonRef(token=secrets.token_urlsafe(12), **w.model_dump()) for w in wanted]
        if refs:
            await self._store.redis.mset(
                {self._store.key("ref", ref.token): ref.model_dump_json() for ref in refs}
            )
        return [ref.token for ref in refs]

    async def get(self, token: str) -> ButtonRef | None:
        if not token or len(token) > 64:
            return None
        raw = await self._store.redis.get(self._store.key("ref", token))
        return None if raw is None else ButtonRef.model_validate(json.loads(raw))

    async def consume(self, token: str) -> bool:
        """Mark a single-use button as used; False if it was used before (a replayed click)."""
        return bool(
            await self._store.redis.set(self._store.key("ref", token, "used"), "1", nx=True)
        )

    async def used(self, token: str) -> bool:
        return bool(await self._store.redis.exists(self._store.key("ref", token, "used")))
