"""The tests' audit key: desks and audit logs the tests build share it with the CLI runs
(`tests/conftest.py` sets it as ITDESK_AUDIT_KEY), as production's comes from a secret
store."""

from __future__ import annotations

from bot.audit import AuditKey

TEST_AUDIT_KEY = "the tests' audit key, not a secret"
AUDIT_KEY = AuditKey(TEST_AUDIT_KEY.encode(), "the tests")
