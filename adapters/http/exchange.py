"""One JSON call to a SaaS API, as every client of one makes it: over the client's shared
session (or a session of its own), the query's values as text, the body as JSON, the answer
read whole and its JSON parsed leniently (an empty body or a proxy's HTML page is None, to
be judged by the status). Timeouts and dropped connections are left to the caller, who
alone knows whether a lost answer leaves a change unknown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp


@dataclass(frozen=True)
class JsonAnswer:
    status: int
    body: Any  # the parsed JSON; None for an empty body or one that is not JSON
    headers: Mapping[str, str] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)  # Link header: rel -> URL

    def retry_after(self) -> float | None:
        """The seconds `Retry-After` asks for (never below 0); None when it is absent or an
        HTTP date (the caller's default wait then)."""
        value = self.headers.get("Retry-After")
        try:
            return max(0.0, float(value)) if value is not None else None
        except ValueError:
            return None


async def exchange(
    session: aiohttp.ClientSession | None,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    limit: aiohttp.ClientTimeout,
    params: Mapping[str, object] | None = None,
    json: object = None,
    allow_redirects: bool = True,
) -> JsonAnswer:
    """One call on `session`, or on a session of its own when there is none."""
    if session is not None:
        return await _exchange(session, method, url, headers, limit, params, json,
                               allow_redirects)  # fmt: skip
    async with aiohttp.ClientSession() as own:
        return await _exchange(own, method, url, headers, limit, params, json, allow_redirects)


async def _exchange(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    headers: Mapping[str, str],
    limit: aiohttp.ClientTimeout,
    params: Mapping[str, object] | None,
    json: object,
    allow_redirects: bool,
) -> JsonAnswer:
    query = {k: str(v) for k, v in (params or {}).items()}
    extra: dict[str, Any] = {} if json is None else {"json": json}
    async with session.request(method, url, params=query or None, headers=dict(headers),
                               timeout=limit, allow_redirects=allow_redirects,
                               **extra) as response:  # fmt: skip
        raw = await response.read()
        try:
            body = await response.json(content_type=None) if raw.strip() else None
        except ValueError:
            body = None
        links = {str(rel): str(link.get("url", "")) for rel, link in response.links.items()}
        return JsonAnswer(response.status, body, response.headers, links)
