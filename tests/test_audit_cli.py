"""`itdesk audit verify|export|checkpoint` as an operator runs them: exit 0 intact, 1 broken
with the problem named, 2 bad input."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from auditing import AUDIT_KEY
from click.testing import CliRunner, Result

from bot.audit_checkpoints import CheckpointFile
from bot.cli import main
from bot.clock import SystemClock
from bot.state.audit import AuditLog
from bot.store import Store

NAMESPACE = "test"


class Operator:
    """Runs `itdesk` against the tests' Redis, with its own checkpoint file."""

    def __init__(self, redis_url: str, tmp_path: Path) -> None:
        self.checkpoints = tmp_path / "checkpoints.jsonl"
        self.env: dict[str, str | None] = {
            "ITDESK_REDIS_URL": redis_url,
            "ITDESK_NAMESPACE": NAMESPACE,
            "ITDESK_AUDIT_CHECKPOINT_FILE": str(self.checkpoints),
            "ITDESK_DATA_DIR": str(tmp_path / "var"),
        }

    async def run(self, *args: str, **env: str | None) -> Result:
        invoke = CliRunner().invoke
        return await asyncio.to_thread(invoke, main, ["audit", *args], env={**self.env, **env})

    def log(self, store: Store) -> AuditLog:
        signed = CheckpointFile(self.checkpoints, AUDIT_KEY, SystemClock())
        return AuditLog(store, AUDIT_KEY, checkpoints=signed, checkpoint_every=3)


@pytest.fixture
def operator(redis_url: str, tmp_path: Path) -> Operator:
    return Operator(redis_url, tmp_path)


@pytest.fixture
async def trail(store: Store, operator: Operator) -> AuditLog:
    log = operator.log(store)
    for n in range(7):
        await log.append({"n": n, "type": "event"})
    return log


async def test_verify_exits_0_for_an_intact_chain(trail: AuditLog, operator: Operator) -> None:
    result = await operator.run("verify")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("audit chain intact: 7 records")


async def test_verify_exits_1_and_names_a_deleted_tail(
    trail: AuditLog, operator: Operator, store: Store
) -> None:
    rows = await store.redis.xrange(store.key("audit"))
    await store.redis.xdel(store.key("audit"), rows[-1][0])
    result = await operator.run("verify")
    assert result.exit_code == 1
    assert "audit chain broken" in result.output
    assert "records 6..6 are missing: the head (test:audit:head) says 6" in result.output


async def test_verify_exits_1_and_names_a_checkpoint_the_chain_no_longer_matches(
    trail: AuditLog, operator: Operator, store: Store
) -> None:
    rows = await store.redis.xrange(store.key("audit"))
    for stream_id, _ in rows[3:]:
        await store.redis.xdel(store.key("audit"), stream_id)
    await store.redis.set(store.key("audit", "head"), f"2 {rows[2][1]['hash']}")  # a tidy cut
    result = await operator.run("verify")
    assert result.exit_code == 1
    assert "says the chain reached record 5; it now ends at record 2" in result.output


async def test_verify_exits_2_without_a_key_to_check_with(
    trail: AuditLog, operator: Operator
) -> None:
    result = await operator.run("verify", ITDESK_AUDIT_KEY=None)
    assert result.exit_code == 2
    assert "no audit key" in result.output


async def test_an_export_verifies_and_a_cut_or_edited_one_does_not(
    trail: AuditLog, operator: Operator, tmp_path: Path
) -> None:
    out = tmp_path / "audit.jsonl"
    assert (await operator.run("export", "--out", str(out))).exit_code == 0
    lines = out.read_text().splitlines()
    assert json.loads(lines[-1])["head"]["index"] == 6  # the signed head closes the file
    good = await operator.run("verify", "--file", str(out))
    assert good.exit_code == 0, good.output

    cut = tmp_path / "cut.jsonl"
    cut.write_text("\n".join([*lines[:-2], lines[-1]]) + "\n")  # the newest record dropped
    result = await operator.run("verify", "--file", str(cut))
    assert result.exit_code == 1
    assert "records 6..6 are missing: the export's head line says 6" in result.output

    headless = tmp_path / "headless.jsonl"
    headless.write_text("\n".join(lines[:-2]) + "\n")  # ...and the head line with it
    result = await operator.run("verify", "--file", str(headless))
    assert result.exit_code == 1
    assert "the export's head line is missing" in result.output

    row = json.loads(lines[3])
    row["record"]["type"] = "nothing happened"
    edited = tmp_path / "edited.jsonl"
    edited.write_text("\n".join([*lines[:3], json.dumps(row), *lines[4:]]) + "\n")
    result = await operator.run("verify", "--file", str(edited))
    assert result.exit_code == 1
    assert "record 3 (id" in result.output


async def test_verify_of_a_file_that_is_no_export_exits_2(
    operator: Operator, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.jsonl"
    junk.write_text("this is not json\n")
    result = await operator.run("verify", "--file", str(junk))
    assert result.exit_code == 2
    assert "not an audit record" in result.output


async def test_checkpoint_signs_an_intact_chain_and_refuses_a_broken_one(
    trail: AuditLog, operator: Operator, store: Store
) -> None:
    before = operator.checkpoints.read_text().splitlines()
    result = await operator.run("checkpoint")
    assert result.exit_code == 0, result.output
    assert "signed checkpoint: 7 records" in result.output
    after = operator.checkpoints.read_text().splitlines()
    assert after[: len(before)] == before  # appended to, never rewritten
    assert json.loads(after[-1])["count"] == 7

    await store.redis.delete(store.key("audit", "head"))
    refused = await operator.run("checkpoint")
    assert refused.exit_code == 1
    assert "not signing a chain that does not verify" in refused.output
    assert operator.checkpoints.read_text().splitlines() == after
