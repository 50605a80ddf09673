"""What a sandbox adapter was built without: the sandbox can stand in for a backend that
lacks a capability (no session counts, no unlock), so the desk's honest answers to
`bot.ports.Unsupported` are tested the way a real backend will trigger them."""

from __future__ import annotations

from collections.abc import Iterable

from bot.ports import Unsupported


class Capabilities:
    """The capabilities one adapter lacks, checked at construction against the names its
    port documents, so a misspelt name fails at start-up instead of never triggering."""

    def __init__(self, unsupported: Iterable[str], known: frozenset[str], backend: str) -> None:
        lacking = frozenset(unsupported)
        unknown = sorted(lacking - known)
        if unknown:
            raise ValueError(
                f"the sandbox {backend} has no capabilities named {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        self.lacking = lacking
        self._backend = backend

    def require(self, capability: str) -> None:
        """Raise `Unsupported` when this adapter was built without `capability`."""
        if capability in self.lacking:
            raise Unsupported(capability, f"the sandbox {self._backend} was built without it")

    def has(self, capability: str) -> bool:
        return capability not in self.lacking
