"""`itdesk audit verify|export` against the configured (or embedded) Redis."""

from __future__ import annotations

import sys
from pathlib import Path

from bot.app import connect_redis
from bot.audit import read_export, verify_records
from bot.settings import Settings
from bot.state.audit import AuditLog
from bot.store import Store


async def verify(settings: Settings, file: Path | None) -> int:
    if file is not None:
        try:
            verdict = verify_records(read_export(file))
        except ValueError as exc:
            print(f"itdesk: {exc}", file=sys.stderr)
            return 2
    else:
        redis, embedded = await connect_redis(settings)
        try:
            verdict = await AuditLog(Store(redis, settings.namespace)).verify()
        finally:
            await redis.aclose()
            if embedded is not None:
                await embedded.stop()
    print(verdict.describe(), file=sys.stdout if verdict.ok else sys.stderr)
    return 0 if verdict.ok else 1


async def export(settings: Settings, out: Path | None) -> int:
    redis, embedded = await connect_redis(settings)
    try:
        log = AuditLog(Store(redis, settings.namespace))
        if out is None:
            count = await log.export(sys.stdout)
        else:
            with out.open("w", encoding="utf-8") as handle:
                count = await log.export(handle)
        print(f"exported {count} audit records", file=sys.stderr)
        return 0
    finally:
        await redis.aclose()
        if embedded is not None:
            await embedded.stop()
