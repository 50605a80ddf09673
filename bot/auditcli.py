"""`itdesk audit verify|export|checkpoint|reconcile` against the configured (or embedded)
Redis. Exit codes: 0 intact (or clean), 1 broken (or findings), 2 bad input (an unreadable
export, no audit key to check with)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from bot.app import audit_log, connect_redis
from bot.audit import AuditKey, read_export
from bot.audit_checkpoints import CheckpointFile
from bot.audit_key import AuditKeyMissing, audit_key
from bot.audit_verify import Verdict, verify_export
from bot.clock import SystemClock
from bot.reconcile import SLACK, reconcile
from bot.settings import Settings
from bot.state.audit import AuditLog
from bot.store import Store
from bot.world import sandbox_change_logs


def _key(settings: Settings) -> AuditKey | None:
    """The key to check with (never a new one: that would call every record rewritten)."""
    try:
        return audit_key(settings, create=False)
    except (AuditKeyMissing, OSError, ValueError) as exc:
        print(f"itdesk: {exc}", file=sys.stderr)
        return None


@asynccontextmanager
async def _trail(settings: Settings) -> AsyncIterator[tuple[Store, AuditLog]]:
    redis, embedded = await connect_redis(settings)
    store = Store(redis, settings.namespace)
    try:
        yield store, audit_log(settings, store, SystemClock())
    finally:
        await redis.aclose()
        if embedded is not None:
            await embedded.stop()


def _report(verdict: Verdict) -> int:
    print(verdict.describe(), file=sys.stdout if verdict.ok else sys.stderr)
    return 0 if verdict.ok else 1


async def verify(settings: Settings, file: Path | None) -> int:
    key = _key(settings)
    if key is None:
        return 2
    if file is None:
        async with _trail(settings) as (_, log):
            return _report(await log.verify())
    try:
        export = read_export(file, key)
    except (OSError, ValueError) as exc:
        print(f"itdesk: {exc}", file=sys.stderr)
        return 2
    checkpoints = CheckpointFile(settings.audit_checkpoint_path, key, SystemClock())
    lines = checkpoints.read(export.chain) if export.chain else None
    return _report(verify_export(export, key, lines))


async def export(settings: Settings, out: Path | None) -> int:
    if _key(settings) is None:
        return 2
    async with _trail(settings) as (_, log):
        if out is None:
            count = await log.export(sys.stdout)
        else:
            with out.open("w", encoding="utf-8") as handle:
                count = await log.export(handle)
    print(f"exported {count} audit records", file=sys.stderr)
    return 0


async def checkpoint(settings: Settings) -> int:
    """Sign the head into the checkpoint file now, if the chain verifies."""
    if _key(settings) is None:
        return 2
    async with _trail(settings) as (_, log):
        verdict, signed = await log.checkpoint()
    if signed is None:
        print("itdesk: not signing a chain that does not verify", file=sys.stderr)
        return _report(verdict) or 1
    print(
        f"signed checkpoint: {signed.count} records, head {signed.index} "
        f"into {settings.audit_checkpoint_path}"
    )
    return 0


async def reconcile_window(
    settings: Settings, since: datetime, until: datetime, *, as_json: bool
) -> int:
    """Compare the backends' change logs with the audit trail from `since` to `until`."""
    if _key(settings) is None:
        return 2
    async with _trail(settings) as (store, log):
        verdict, records = await log.checked()
        changes = [
            change
            for changelog in sandbox_change_logs(store, SystemClock())
            for change in await changelog.changes(since - SLACK, until + SLACK)
        ]
    result = reconcile([r.record for r in records], changes, since, until)
    print(result.to_json() if as_json else result.describe())
    if not verdict.ok:
        print(f"itdesk: the audit trail itself does not verify:\n{verdict.describe()}",
              file=sys.stderr)  # fmt: skip
    return 0 if result.clean and verdict.ok else 1
