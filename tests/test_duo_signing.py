"""Signing requests to Duo (`adapters.checks.duo_signing`) as Duo's documentation gives it,
and the fake Duo refusing what Duo refuses: a wrong signature, a date far from its clock."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from servers.duo import IKEY, SKEY, DuoServer

from adapters.checks.duo_api import DuoApi
from adapters.checks.duo_signing import canonical_params, duo_date, signed_headers
from adapters.checks.provider_http import ProviderRefused
from bot.clock import ManualClock

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DOCS = {"ikey": "DIWJ8X6AEYOR5OMC6TQ1", "skey": "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep",
        "date": "Tue, 21 Aug 2012 17:29:18 -0000"}  # fmt: skip


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def duo(clock: ManualClock) -> Iterator[DuoServer]:
    server = DuoServer(clock.now).start()
    try:
        yield server
    finally:
        server.stop()


def api(server: DuoServer, clock: ManualClock, *, skey: str = SKEY) -> DuoApi:
    return DuoApi(server.url, IKEY, SecretStr(skey), clock)


@pytest.mark.parametrize(
    ("path", "expected"),
    [  # the examples of Duo's documentation (signed with HMAC-SHA1 there)
        ("/admin/v1/users", "c1ef43767c3eb3b3258dbddca6f8d0941e085b92"),
        ("/accounts/v1/account/list", "2d97d6166319781b5a3a07af39d366f491234edc"),
    ],
)
def test_the_canonical_request_is_signed_as_in_duos_documented_example(
    path: str, expected: str
) -> None:
    headers = signed_headers(
        DOCS["ikey"], DOCS["skey"], method="POST", host="api-XXXXXXXX.duosecurity.com",
        path=path, params={"username": "root", "realname": "First Last"}, date=DOCS["date"],
        digest=hashlib.sha1,
    )  # fmt: skip
    assert headers["Date"] == DOCS["date"]
    assert base64.b64decode(headers["Authorization"].removeprefix("Basic ")).decode() == (
        f"{DOCS['ikey']}:{expected}"
    )


def test_the_auth_api_signs_with_hmac_sha512_and_an_rfc_2822_date() -> None:
    assert duo_date(datetime(2012, 8, 21, 17, 29, 18, tzinfo=UTC)) == DOCS["date"]
    headers = signed_headers(DOCS["ikey"], DOCS["skey"], method="GET", host="h", path="/p",
                             params={}, date=DOCS["date"])  # fmt: skip
    signature = base64.b64decode(headers["Authorization"][6:]).decode().partition(":")[2]
    assert len(signature) == 128  # a SHA-512 digest, in hex
    assert int(signature, 16) >= 0
    assert canonical_params({"b": "x y@z", "a": "~é"}) == "a=~%C3%A9&b=x%20y%40z"


async def test_a_wrong_signature_is_refused_as_duo_refuses_it(
    duo: DuoServer, clock: ManualClock
) -> None:
    with pytest.raises(ProviderRefused) as caught:
        await api(duo, clock, skey="not-the-secret").preauth("ana")
    assert (caught.value.status, caught.value.code) == (401, 40103)
    assert "not-the-secret" not in str(caught.value)
    assert SKEY not in repr(api(duo, clock))
    assert not duo.calls("/auth/v2/preauth")


async def test_a_request_dated_far_from_duos_clock_is_refused(duo: DuoServer) -> None:
    late = ManualClock(T0 + timedelta(hours=1))
    with pytest.raises(ProviderRefused) as caught:
        await DuoApi(duo.url, IKEY, SecretStr(SKEY), late).preauth("ana")
    assert caught.value.status == 401


async def test_a_rightly_signed_request_is_taken(duo: DuoServer, clock: ManualClock) -> None:
    assert (await api(duo, clock).preauth("ana"))["result"] == "enroll"
    assert duo.calls("/auth/v2/preauth")[0].params == {"username": "ana"}
