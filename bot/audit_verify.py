"""Verifying the audit chain: every link recomputed under the audit key, the chain's end
compared with the head the desk recorded, and the chain compared with every signed
checkpoint. A verdict names each problem: the first record that does not fit, a rewrite, a
missing tail, a missing head, a checkpoint the chain no longer matches."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.audit import (
    GENESIS,
    KEYED,
    SCHEMES,
    UNKEYED,
    AuditKey,
    AuditRecord,
    Export,
    Head,
    link_of,
)
from bot.audit_checkpoints import CheckpointLine


@dataclass(frozen=True)
class Verdict:
    checked: int
    problems: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    broken_at: AuditRecord | None = None  # the first record that does not fit, if one
    reason: str = ""  # why it does not

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        if self.ok:
            lines = [f"audit chain intact: {self.checked} records"]
        else:
            lines = ["audit chain broken:", *(f"  {p}" for p in self.problems)]
        return "\n".join([*lines, *(f"warning: {w}" for w in self.warnings)])


@dataclass(frozen=True)
class HeadSeen:
    """The head verify compares the chain with: `head` is None when none is recorded;
    `where` names it in messages; `required` says whether its absence is a problem."""

    head: Head | None
    where: str = "the head"
    required: bool = True


def verify_chain(
    records: Sequence[AuditRecord],
    key: AuditKey,
    *,
    head: HeadSeen | None = None,
    checkpoints: Sequence[CheckpointLine] | None = None,
    partial: bool = False,
) -> Verdict:
    """The verdict on `records` (oldest first). `checkpoints` None: no checkpoint file is
    configured. `partial`: the records may end before a checkpoint (an older export)."""
    checked, broken_at, reason = _links(records, key)
    problems = [f"record {broken_at.index} (id {broken_at.id}): {reason}"] if broken_at else []
    warnings = _unkeyed_warnings(records)
    if head is not None:
        problems += _head_problems(records, head)
        if head.head is None and not head.required and records:
            warnings.append(f"{head.where} is not recorded: a cut tail would not show")
    if checkpoints is not None:
        cut, lines = _checkpoint_problems(records, key, checkpoints, partial=partial)
        problems += cut
        if not lines and records:
            warnings.append(
                "no signed checkpoint yet: a chain cut back, or rewritten in the unkeyed "
                "scheme from its start, would not show"
            )
    return Verdict(checked, tuple(problems), tuple(warnings), broken_at, reason)


def _links(records: Sequence[AuditRecord], key: AuditKey) -> tuple[int, AuditRecord | None, str]:
    """How many records fit, and the first that does not with why."""
    prev = GENESIS
    keyed = False
    for position, rec in enumerate(records):
        why = ""
        if rec.index != position:
            why = f"expected record {position} here (a record is missing or out of order)"
        elif rec.prev != prev:
            why = "does not follow the record before it (a record before it was removed or changed)"
        elif rec.scheme not in SCHEMES:
            why = f"unknown scheme {rec.scheme!r}"
        elif rec.scheme == UNKEYED and keyed:
            why = "an unkeyed record after keyed ones (written without the audit key)"
        elif link_of(key, rec.scheme, prev, rec.record) != rec.hash:
            why = _mismatch(records[position:], key)
        if why:
            return position, rec, why
        keyed = keyed or rec.scheme == KEYED
        prev = rec.hash
    return len(records), None, ""


def _mismatch(rest: Sequence[AuditRecord], key: AuditKey) -> str:
    """Why a record's link is wrong: one record changed, or the chain rewritten from it on
    (its records link to each other, but none under the key)."""
    linked = all(
        later.index == earlier.index + 1 and later.prev == earlier.hash
        for earlier, later in itertools.pairwise(rest)
    )
    wrong = all(link_of(key, r.scheme, r.prev, r.record) != r.hash for r in rest)
    if len(rest) > 1 and linked and wrong:
        return (
            f"the chain was rewritten from here on: its {len(rest)} records link to each other "
            "but not under the audit key (recomputed without the key, or with another)"
        )
    if rest[0].scheme == KEYED:
        return "its content does not match its MAC under the audit key (the record was changed)"
    return "its content does not match its hash (the record was changed)"


def _unkeyed_warnings(records: Sequence[AuditRecord]) -> list[str]:
    unkeyed = [r.index for r in records if r.scheme == UNKEYED]
    if not unkeyed:
        return []
    span = f"record {unkeyed[0]}" if len(unkeyed) == 1 else f"records {unkeyed[0]}..{unkeyed[-1]}"
    return [
        f"{span} unkeyed (plain SHA-256, written before the audit key): whoever could write "
        "to Redis could have rewritten them; only a signed checkpoint since vouches for them"
    ]


def _head_problems(records: Sequence[AuditRecord], seen: HeadSeen) -> list[str]:
    head, where = seen.head, seen.where
    if head is None:
        if records and seen.required:
            return [
                f"{where} is missing: {len(records)} records but nothing says where the chain "
                "ends (the head was deleted)"
            ]
        return []
    if not records:
        return [f"records 0..{head.index} are missing: {where} says {head.index}"]
    last = records[-1]
    if head.index > last.index:
        return [f"records {last.index + 1}..{head.index} are missing: {where} says {head.index}"]
    if head.index < last.index:
        return [
            f"records {head.index + 1}..{last.index} follow {where} (it says {head.index}): "
            "the head was set back, or records were added outside the desk"
        ]
    if head.hash != last.hash:
        return [f"{where} does not match record {last.index}: the newest record was replaced"]
    return []


def _checkpoint_problems(
    records: Sequence[AuditRecord],
    key: AuditKey,
    lines: Sequence[CheckpointLine],
    *,
    partial: bool,
) -> tuple[list[str], int]:
    """The checkpoints the chain contradicts: one named of each kind (of cuts the newest,
    which says how far back; of the others the first), the rest counted."""
    by_index = {r.index: r for r in reversed(records)}  # the first record with each index
    named: dict[str, str] = {}
    count = 0
    for line in lines:
        found = _against(line, by_index, records[-1].index if records else -1, key, partial)
        if found is not None:
            kind, message = found
            count += 1
            if kind == "cut" or kind not in named:
                named[kind] = message
    problems = list(named.values())
    if count > len(problems):
        problems[-1] += f" (and {count - len(problems)} more checkpoint problems)"
    return problems, len(lines)


def _against(
    line: CheckpointLine,
    by_index: dict[int, AuditRecord],
    last: int,
    key: AuditKey,
    partial: bool,
) -> tuple[str, str] | None:
    """What is wrong between one checkpoint line and the chain, by kind, if anything."""
    checkpoint = line.checkpoint
    where = f"checkpoint file line {line.number}" if line.number else "the checkpoint file"
    if checkpoint is None:
        return "unreadable", f"{where} {line.problem}"
    where = f"the checkpoint of {checkpoint.at} ({where})"
    rec = by_index.get(checkpoint.index)
    if not checkpoint.signed_by(key):
        return "unsigned", (
            f"{where} is not signed with the audit key (the file was edited, or it was "
            "written under another key)"
        )
    if checkpoint.index > last:
        if partial:
            return None
        now = f"ends at record {last}" if by_index else "is empty"
        return "cut", (
            f"{where} says the chain reached record {checkpoint.index}; it now {now}: "
            f"records {last + 1}..{checkpoint.index} were cut"
        )
    if rec is None:
        return "missing", f"record {checkpoint.index}, signed by {where}, is missing"
    if rec.hash != checkpoint.hash:
        return "rewritten", (
            f"record {checkpoint.index} is not the one {where} signed: the chain was cut "
            "back and grown again, or rewritten, before it"
        )
    return None


def verify_export(
    export: Export, key: AuditKey, checkpoints: Sequence[CheckpointLine] | None
) -> Verdict:
    """The verdict on an exported file: its records against its signed head line and
    against the checkpoints it reaches (those signed after the export are not its to match).
    A keyed export without a head line was cut; an unkeyed one may predate head lines."""
    keyed = any(r.scheme == KEYED for r in export.records)
    seen = HeadSeen(export.head, "the export's head line", required=keyed)
    verdict = verify_chain(export.records, key, head=seen, checkpoints=checkpoints, partial=True)
    if export.head is None or export.head_signed:
        return verdict
    unsigned = (
        "the export's head line is not signed with the audit key (it was edited, or the "
        "export was made under another key)"
    )
    return replace(verdict, problems=(*verdict.problems, unsigned))
