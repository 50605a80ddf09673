"""An org file read once: the validated org kept as JSON, so that a desk restarted on an
unchanged file reads it in milliseconds instead of parsing YAML for seconds (a 10,000-person
file is 3 MB of YAML).

The stored copy is named by a hash of the file's bytes, of the code that validates it (the
org modules' source) and of the PyYAML and pydantic versions: a changed file, or a desk
that validates differently, reads the YAML again, with every problem reported as before. A
copy that cannot be read is logged and replaced; copies are written under a temporary name
and renamed into place, and each org file keeps only its latest copy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import structlog
from pydantic import ValidationError

from bot import models, org_checks, org_yaml
from bot import org as org_module
from bot.cache_files import store
from bot.org import Org, load_org

__all__ = ["OrgCache"]

log = structlog.get_logger("itdesk.org")
_VALIDATED_BY = (org_module, org_checks, org_yaml, models)


@dataclass(frozen=True)
class OrgCache:
    """Validated org files under `directory`, one copy per org file."""

    directory: Path

    def load(self, path: Path) -> Org:
        """`load_org(path)`, from the stored copy when the file is unchanged."""
        try:
            content = path.read_bytes()
        except OSError:
            return load_org(path)  # which reports the file it cannot read
        stored = self._path(path, content)
        try:
            org = Org.model_validate_json(stored.read_bytes())
        except FileNotFoundError:
            pass
        except (OSError, ValueError, ValidationError) as exc:
            log.warning("org_cache.unusable", path=str(stored), error=type(exc).__name__)
        else:
            log.info("org_cache.loaded", org=str(path), path=str(stored))
            return org
        org = load_org(path)
        self._save(stored, org)
        return org

    def _path(self, path: Path, content: bytes) -> Path:
        digest = hashlib.sha256(content)
        for module in _VALIDATED_BY:
            digest.update(Path(str(module.__file__)).read_bytes())
        for package in ("pyyaml", "pydantic"):
            digest.update(metadata.version(package).encode())
        named = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
        return self.directory / f"org-{named}-{digest.hexdigest()[:32]}.json"

    def _save(self, stored: Path, org: Org) -> None:
        body = org.model_dump_json()
        if Org.model_validate_json(body) != org:  # a copy must read back as the same org
            log.warning("org_cache.not_stored", reason="the org does not survive JSON")
            return
        same_file = stored.name.rsplit("-", 1)[0]
        try:
            store(stored, body.encode(), replaces=f"{same_file}-*.json")
        except OSError as exc:
            log.warning("org_cache.unwritable", path=str(stored), error=str(exc))
            return
        log.info("org_cache.saved", path=str(stored))
