"""The contract backends between them exercise both answers to every capability."""

from __future__ import annotations

from backends import BACKENDS, LACKING_OTHERS, LACKING_SOME

from bot.ports import CAPABILITIES


def test_every_capability_is_lacked_by_one_sandbox_and_held_by_another() -> None:
    assert LACKING_SOME | LACKING_OTHERS == CAPABILITIES
    assert not LACKING_SOME & LACKING_OTHERS
    assert "sandbox" in BACKENDS  # the whole sandbox holds every capability
