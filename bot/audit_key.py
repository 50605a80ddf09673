"""Where the audit key comes from: `ITDESK_AUDIT_KEY` (production: from a secret store), else
a key file of this installation under the data directory, made on first use (readable by
its owner only). Either way the key never goes to Redis, so whoever can write to Redis
cannot recompute the chain."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from bot.audit import AuditKey
from bot.settings import Settings

KEY_FILE = "audit.key"


class AuditKeyMissing(Exception):
    """There is no audit key to check the chain with (an operator must point to it)."""


def audit_key(settings: Settings, *, create: bool = True) -> AuditKey:
    """The installation's audit key; without `create` (verifying, not writing) a key file
    that is not there yet is an `AuditKeyMissing`, not a new key."""
    if settings.audit_key is not None:
        return AuditKey(settings.audit_key.get_secret_value().encode(), "ITDESK_AUDIT_KEY")
    path = settings.data_dir / KEY_FILE
    if not create and not path.exists():
        raise AuditKeyMissing(
            f"no audit key: ITDESK_AUDIT_KEY is unset and there is no {path} (the desk makes "
            "it on its first start; run this where the desk keeps its data, or set the key)"
        )
    return key_file(path)


def key_file(path: Path) -> AuditKey:
    """The key kept in `path`, made (mode 0600) when there is none yet. Several processes
    starting at once agree on one key: the file appears whole or not at all."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (secrets.token_hex(32) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(draft, path)  # fails when another process made the key first: theirs counts
    except FileExistsError:
        pass
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(draft)
    return _read(path)


def _read(path: Path) -> AuditKey:
    secret = path.read_text(encoding="ascii").strip()
    if not secret:
        raise ValueError(f"{path}: the audit key file is empty")
    return AuditKey(secret.encode(), str(path))
