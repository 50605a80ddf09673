"""The audit trail cannot be cut or rewritten quietly: each way someone with write access to
Redis (but not the audit key) could tamper with it is named by `verify`."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from auditing import AUDIT_KEY

from bot.audit import KEYED, UNKEYED, AuditKey, AuditRecord, canonical, chain_hash
from bot.audit_checkpoints import CheckpointFile
from bot.audit_key import audit_key
from bot.clock import ManualClock
from bot.settings import SettingsError, load_settings
from bot.state.audit import AuditLog, HeadMissing
from bot.store import Store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Link = Callable[[str, dict[str, Any]], str]


def _log(store: Store, checkpoints: Path | None = None, *, every: int = 100) -> AuditLog:
    signed = CheckpointFile(checkpoints, AUDIT_KEY, ManualClock(T0)) if checkpoints else None
    return AuditLog(store, AUDIT_KEY, checkpoints=signed, checkpoint_every=every)


async def _fill(log: AuditLog, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        await log.append({"n": n, "type": "event", "by": "alice"})


async def _records(log: AuditLog) -> list[AuditRecord]:
    return [rec async for rec in log.records()]


async def _replace_stream(store: Store, records: list[AuditRecord], *, head: bool = True) -> None:
    """What whoever can write to Redis can do: put another stream (and head) in its place,
    keeping the stream ids. `scheme` None writes the fields as the desk did before keys."""
    key = store.key("audit")
    await store.redis.delete(key)
    for rec in records:
        fields = {"index": rec.index, "prev": rec.prev, "hash": rec.hash,
                  "record": canonical(rec.record)}  # fmt: skip
        if rec.scheme == KEYED:
            fields["scheme"] = rec.scheme
        await store.redis.xadd(key, fields, id=rec.id)
    if head and records:
        await store.redis.set(store.key("audit", "head"), f"{records[-1].index} {records[-1].hash}")


def _relinked(records: list[AuditRecord], link: Link, scheme: str) -> list[AuditRecord]:
    """The records chained again from the start with `link`: a full rewrite."""
    prev, out = "0" * 64, []
    for rec in records:
        digest = link(prev, rec.record)
        out.append(replace(rec, prev=prev, hash=digest, scheme=scheme))
        prev = digest
    return out


async def test_an_untouched_chain_is_intact_and_keyed(store: Store) -> None:
    log = _log(store)
    await _fill(log, 5)
    verdict = await log.verify()
    assert verdict.ok, verdict.describe()
    assert verdict.checked == 5
    assert {r.scheme for r in await _records(log)} == {KEYED}
    assert verdict.describe().startswith("audit chain intact: 5 records")


async def test_a_deleted_tail_is_named_from_the_head(store: Store) -> None:
    log = _log(store)
    await _fill(log, 6)
    records = await _records(log)
    await store.redis.xdel(store.key("audit"), records[4].id, records[5].id)
    verdict = await log.verify()
    assert not verdict.ok
    assert verdict.broken_at is None  # what is left links up: only the head tells
    assert any("records 4..5 are missing: the head" in p and "says 5" in p
               for p in verdict.problems), verdict.describe()  # fmt: skip


async def test_a_deleted_head_is_reported_and_the_desk_will_not_start_a_new_chain(
    store: Store,
) -> None:
    log = _log(store)
    await _fill(log, 3)
    await store.redis.delete(store.key("audit", "head"))
    verdict = await log.verify()
    assert not verdict.ok
    assert any("is missing: 3 records but nothing says where the chain ends" in p
               for p in verdict.problems), verdict.describe()  # fmt: skip
    with pytest.raises(HeadMissing):
        await _log(store).append({"n": 3})  # a restarted desk does not fork the chain
    assert len(await _records(log)) == 3


async def test_an_edited_middle_record_is_named(store: Store) -> None:
    log = _log(store)
    await _fill(log, 5)
    records = await _records(log)
    edited = replace(records[2], record={**records[2].record, "by": "mallory"})
    await _replace_stream(store, [*records[:2], edited, *records[3:]])
    verdict = await log.verify()
    assert not verdict.ok
    assert verdict.broken_at is not None
    assert verdict.broken_at.index == 2
    assert "the record was changed" in verdict.reason
    assert verdict.problems[0].startswith(f"record 2 (id {records[2].id})")


async def test_a_full_rewrite_with_plain_sha256_links_is_detected(store: Store) -> None:
    log = _log(store)
    await _fill(log, 5)
    records = await _records(log)
    forged = [replace(r, record={**r.record, "by": "mallory"}) for r in records]
    await _replace_stream(store, _relinked(forged, chain_hash, KEYED))  # the head rewritten too
    verdict = await log.verify()
    assert not verdict.ok
    assert verdict.broken_at is not None
    assert verdict.broken_at.index == 0
    assert "rewritten from here on: its 5 records link to each other" in verdict.reason


async def test_a_full_rewrite_under_a_wrong_key_is_detected(store: Store) -> None:
    log = _log(store)
    await _fill(log, 4)
    wrong = AuditKey(b"a key the attacker guessed, wrongly", "attacker")
    await _replace_stream(store, _relinked(await _records(log), wrong.link, KEYED))
    verdict = await log.verify()
    assert not verdict.ok
    assert "not under the audit key" in verdict.reason


async def test_a_rewrite_down_to_the_unkeyed_scheme_is_caught_by_a_checkpoint(
    store: Store, tmp_path: Path
) -> None:
    log = _log(store, tmp_path / "checkpoints.jsonl", every=3)
    await _fill(log, 6)
    forged = [replace(r, record={**r.record, "by": "mallory"}) for r in await _records(log)]
    await _replace_stream(store, _relinked(forged, chain_hash, UNKEYED))
    verdict = await log.verify()
    assert not verdict.ok
    assert verdict.broken_at is None  # an unkeyed chain links up on its own...
    assert "record 0 is not the one the checkpoint of" in verdict.problems[0]  # ...but was signed
    assert "unkeyed" in verdict.warnings[0]


async def test_a_chain_cut_back_and_grown_again_fails_its_checkpoint(
    store: Store, tmp_path: Path
) -> None:
    file = tmp_path / "checkpoints.jsonl"
    await _fill(_log(store, file, every=5), 10)  # signed: records 0, 4 and 9
    records = await _records(_log(store))
    await _replace_stream(store, records[:6])  # cut back to record 5, head and all
    cut = await _log(store, file).verify()
    assert not cut.ok
    assert (
        "says the chain reached record 9; it now ends at record 5: records 6..9 were cut"
        in (cut.problems[0])
    )
    await _fill(_log(store), 4, start=100)  # the desk writes on: records 6..9 again, keyed
    regrown = await _log(store, file).verify()
    assert regrown.broken_at is None
    assert not regrown.ok
    assert "record 9 is not the one the checkpoint of" in regrown.problems[0]
    assert "cut back and grown again" in regrown.problems[0]


async def test_a_deleted_stream_and_head_still_fail_the_checkpoints(
    store: Store, tmp_path: Path
) -> None:
    file = tmp_path / "checkpoints.jsonl"
    await _fill(_log(store, file, every=2), 4)
    await store.redis.delete(store.key("audit"), store.key("audit", "head"))
    verdict = await _log(store, file).verify()
    assert not verdict.ok
    assert "it now is empty: records 0..3 were cut" in verdict.problems[0]


async def test_an_edited_checkpoint_file_is_named(store: Store, tmp_path: Path) -> None:
    file = tmp_path / "checkpoints.jsonl"
    await _fill(_log(store, file, every=2), 4)
    lines = file.read_text().splitlines()
    row = json.loads(lines[-1])
    row["count"], row["index"] = 2, 1  # pretend the chain was shorter then
    file.write_text("\n".join([*lines[:-1], json.dumps(row)]) + "\n")
    verdict = await _log(store, file).verify()
    assert not verdict.ok
    assert "is not signed with the audit key" in verdict.problems[0]


async def test_checkpoints_are_signed_every_k_appends_without_a_round_trip_more(
    store: Store, tmp_path: Path
) -> None:
    file = tmp_path / "var" / "checkpoints.jsonl"
    log = _log(store, file, every=100)
    await log.append({"n": -1})  # the process's first append signs one; the script is loaded
    await store.redis.config_resetstat()
    await _fill(log, 249)
    stats = await store.redis.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}
    # one script per append (the GET, XADD and SET are the script's own): the head is known,
    # nothing is read back, and signing a checkpoint costs no command at all
    assert calls == {"evalsha": 249, "get": 249, "xadd": 249, "set": 249, "config": 1}
    signed = [json.loads(line) for line in file.read_text().splitlines()]
    assert [(c["index"], c["count"]) for c in signed] == [(0, 1), (99, 100), (199, 200)]
    assert {c["chain"] for c in signed} == {store.key("audit")}
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert (await log.verify()).ok


async def test_old_unkeyed_chains_verify_as_unkeyed_and_the_desk_continues_them(
    store: Store,
) -> None:
    legacy = _relinked(
        [AuditRecord(f"1-{n}", n, "", "", {"n": n}, UNKEYED) for n in range(3)],
        chain_hash,
        UNKEYED,
    )
    await _replace_stream(store, legacy)  # as the desk wrote them before the audit key
    log = _log(store)
    before = await log.verify()
    assert before.ok, before.describe()
    assert before.warnings[0].startswith("records 0..2 unkeyed (plain SHA-256")
    await _fill(log, 2)
    after = await log.verify()
    assert after.ok, after.describe()
    assert after.checked == 5
    assert [r.scheme for r in await _records(log)] == [UNKEYED] * 3 + [KEYED] * 2
    # an unkeyed record after keyed ones is not history: it was written without the key
    records = await _records(log)
    last, forged = records[-1], {"n": "forged"}
    sneaked = AuditRecord("9999999999999-0", 5, last.hash, chain_hash(last.hash, forged),
                          forged, UNKEYED)  # fmt: skip
    await _replace_stream(store, [*records, sneaked])
    verdict = await log.verify()
    assert not verdict.ok
    assert verdict.broken_at == sneaked
    assert "an unkeyed record after keyed ones" in verdict.reason


async def test_the_key_comes_from_a_setting_or_a_0600_file_and_never_reaches_redis(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ITDESK_AUDIT_KEY")
    settings = load_settings(_env_file=None, data_dir=tmp_path)
    first = audit_key(settings)
    path = tmp_path / "audit.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.source == str(path)
    again = audit_key(settings)
    assert again.link("x", {}) == first.link("x", {})  # the same installation, the same key
    secret = path.read_text().strip()
    assert secret not in repr(first)
    await _fill(AuditLog(store, first), 3)
    stored = []
    for key in await store.redis.keys("*"):
        if await store.redis.type(key) == "stream":
            stored += [json.dumps(fields) for _, fields in await store.redis.xrange(key)]
        else:
            stored.append(str(await store.redis.get(key)))
    assert stored
    assert all(secret not in value for value in stored)
    configured = load_settings(_env_file=None, data_dir=tmp_path, audit_key="k" * 32)
    assert audit_key(configured).source == "ITDESK_AUDIT_KEY"
    assert audit_key(configured).link("x", {}) != first.link("x", {})


def test_a_short_audit_key_is_refused_at_start_up() -> None:
    with pytest.raises(SettingsError, match=r"ITDESK_AUDIT_KEY: .*at least 16 characters"):
        load_settings(_env_file=None, audit_key="letmein")


async def test_a_checkpoint_file_that_cannot_be_written_does_not_stop_the_desk(
    store: Store, tmp_path: Path
) -> None:
    blocked = tmp_path / "a-file-not-a-folder"
    blocked.write_text("")
    log = _log(store, blocked / "checkpoints.jsonl", every=2)
    await _fill(log, 4)  # logged as audit.checkpoint_failed; every record is in Redis
    assert [r.index for r in await _records(log)] == [0, 1, 2, 3]
    verdict = await log.verify()
    assert verdict.broken_at is None
    assert verdict.problems == ("the checkpoint file cannot be read (Not a directory)",)
