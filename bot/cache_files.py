"""The files of the start-up caches (the fitted intent model, parsed org files): each is
written whole or not at all, so that a desk starting beside another never reads half of one,
and replaces the copies made from older inputs."""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path

__all__ = ["store"]


def store(path: Path, data: bytes, *, replaces: str) -> None:
    """Write `data` to `path` through a temporary file renamed into place, then remove the
    other files beside it that match the glob `replaces`. Raises `OSError` when the
    directory cannot be written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    finally:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
    for older in path.parent.glob(replaces):
        if older != path:
            with suppress(FileNotFoundError):
                older.unlink()
