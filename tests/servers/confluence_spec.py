"""Confluence Cloud's published REST API spec (the slice under `specs/confluence/`) held
against what went over the wire to and from the fake Confluence, with openapi-core: each
request the desk's client sent and each answer the spec describes."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from servers.confluence import Exchange

SPEC = Path(__file__).parent / "specs" / "confluence" / "content-search.yaml"
HOST = "https://example.atlassian.net"
# the spec states answers with a body for 200 only; its 400 and 401 are `content: {}`, and it
# lists no 403, 429 or 503 (refusals the desk must still handle)
DESCRIBED = frozenset({200})


@cache
def spec() -> OpenAPI:
    """The slice, its server read as the v1 API's base: the file names the v2 base, under
    which v1's `/rest/api/...` paths do not live (`https://{site}/wiki/rest/api/...`)."""
    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    document["servers"] = [{"url": f"{HOST}/wiki"}]
    return OpenAPI.from_dict(document)


def problems(exchanges: Iterable[Exchange]) -> list[str]:
    """Every way the exchanges differ from the spec, one line each (none: they agree)."""
    found = []
    for e in exchanges:
        request = MockRequest(HOST, e.method.lower(), e.path, args=e.query, headers=e.headers)
        what = f"{e.method} {e.path} -> {e.status}"
        for error in spec().iter_request_errors(request):
            found.append(f"{what}: request: {type(error).__name__}: {error}")
        if e.status not in DESCRIBED:
            continue
        response = MockResponse(e.answer, e.status, e.answer_headers,
                                e.content_type or "application/json")  # fmt: skip
        for error in spec().iter_response_errors(request, response):
            causes = "; ".join(str(c) for c in getattr(error, "schema_errors", ()))
            found.append(f"{what}: answer: {type(error).__name__}: {error} {causes[:400]}")
    return found
