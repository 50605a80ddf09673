"""Bearer tokens for outbound calls: the `TokenSource` an HTTP client asks before each call.

A source fetches its token asynchronously (never a blocking call on the event loop), keeps it
until shortly before it expires, and lets concurrent callers share one fetch."""

from __future__ import annotations

from typing import Protocol


class TokenSource(Protocol):
    async def token(self) -> str:
        """A token valid for at least the next minute. Raises `TokenUnavailable` when none
        can be had (the token endpoint refused or cannot be reached)."""
        ...

    def forget(self) -> None:
        """Drop the cached token (the API answered 401 to it): the next `token` fetches."""
        ...


class TokenUnavailable(Exception):
    """No token could be fetched. The message says why in words safe to log: never the
    secret, the assertion or the token itself."""


class StaticToken:
    """A token given as it is (an Okta SSWS API token, a test's token)."""

    def __init__(self, value: str) -> None:
        self._value = value

    async def token(self) -> str:
        return self._value

    def forget(self) -> None:
        """A static token cannot be fetched again."""

    def __repr__(self) -> str:
        return "StaticToken(***)"
