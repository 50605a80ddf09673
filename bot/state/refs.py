"""Button references: the opaque token a button carries. The token names a record the desk
keeps in Redis (what the button does, on which case, and who may press it); nothing in the
button itself is trusted."""

from __future__ import annotations

import json
import secrets
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
        token = secrets.token_urlsafe(12)
        ref = ButtonRef(
            token=token,
            action=action,
            case_id=case_id,
            allowed=allowed,
            role=role,
            data=data or {},
            expires_at=expires_at,
        )
        await self._store.redis.set(self._store.key("ref", token), ref.model_dump_json())
        return token

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
