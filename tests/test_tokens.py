"""Outbound Bearer tokens (`adapters.http.tokens`) against a real token endpoint on loopback
(`fakes.token_endpoint`): cached until shortly before they expire, one fetch for concurrent
callers, a fresh client assertion per fetch, and failures that say why without the secret."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
import threading
import traceback
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fakes.token_endpoint import ASSERTION_TYPE, TokenEndpoint
from waiting import until

from adapters.http.tokens import (
    REFRESH_MARGIN,
    ClientCredentialTokens,
    StaticToken,
    TokenUnavailable,
    client_assertion,
)

CLIENT = "0f1e2d3c-desk-client"
SECRET = "Moonlit-Harbor-secret-42"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()


class Clock:
    """Monotonic seconds that move only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def endpoint() -> Iterator[TokenEndpoint]:
    served = TokenEndpoint(secrets={CLIENT: SECRET}, keys={CLIENT: KEY.public_key()}).start()
    try:
        yield served
    finally:
        served.close()


def secret_form() -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": SECRET}


def tokens(
    endpoint: TokenEndpoint, clock: Clock | None = None, **options: float
) -> ClientCredentialTokens:
    return ClientCredentialTokens(endpoint.url, secret_form, clock=clock or Clock(), **options)


def everything_said(exc: BaseException) -> str:
    """All an exception could put in a log: its message, repr and traceback with causes."""
    return "".join(traceback.format_exception(exc)) + repr(exc)


# --- caching ---------------------------------------------------------------------------------


async def test_a_token_is_kept_until_the_margin_before_it_expires(endpoint: TokenEndpoint) -> None:
    clock = Clock()
    source = tokens(endpoint, clock)
    first = await source.token()
    assert first == endpoint.issued[0]
    clock.now += 3600 - REFRESH_MARGIN - 1
    assert await source.token() == first
    assert len(endpoint.forms) == 1

    clock.now += 1  # inside the margin: fetched again, before it expires
    second = await source.token()
    assert second == endpoint.issued[1] != first
    assert source.cached == second
    assert len(endpoint.forms) == 2


async def test_cached_reads_without_fetching_until_the_token_expires(
    endpoint: TokenEndpoint,
) -> None:
    clock = Clock()
    source = tokens(endpoint, clock)
    assert source.cached is None  # nothing fetched yet, and reading does not fetch
    token = await source.token()
    clock.now += 3600 - 1  # past the margin, not past the expiry
    assert source.cached == token
    clock.now += 1
    assert source.cached is None
    assert len(endpoint.forms) == 1


async def test_a_short_lived_token_is_kept_for_half_its_life(endpoint: TokenEndpoint) -> None:
    endpoint.lifetime = 100  # shorter than the margin
    clock = Clock()
    source = tokens(endpoint, clock)
    token = await source.token()
    clock.now += 49
    assert await source.token() == token
    clock.now += 1
    assert await source.token() != token


async def test_forget_fetches_again(endpoint: TokenEndpoint) -> None:
    source = tokens(endpoint)
    first = await source.token()
    source.forget()  # the API answered 401 to it
    assert source.cached is None
    assert await source.token() != first
    assert len(endpoint.forms) == 2


async def test_a_lifetime_sent_as_a_string_is_understood(endpoint: TokenEndpoint) -> None:
    endpoint.lifetime = "3599"  # Entra's v1 endpoint
    clock = Clock()
    source = tokens(endpoint, clock)
    token = await source.token()
    clock.now += 3599 - REFRESH_MARGIN - 1
    assert await source.token() == token
    assert len(endpoint.forms) == 1


# --- one fetch for everyone ----------------------------------------------------------------


async def test_concurrent_callers_share_one_fetch(endpoint: TokenEndpoint) -> None:
    endpoint.gate = threading.Event()
    source = tokens(endpoint)
    callers = [asyncio.create_task(source.token()) for _ in range(5)]

    async def asked() -> bool:
        return bool(endpoint.forms)

    await until(asked)
    assert not any(c.done() for c in callers)  # all waiting on the one request
    endpoint.gate.set()
    assert set(await asyncio.gather(*callers)) == {endpoint.issued[0]}
    assert len(endpoint.forms) == 1


async def test_concurrent_callers_share_a_failure_too(endpoint: TokenEndpoint) -> None:
    endpoint.gate, endpoint.refuse = threading.Event(), "invalid_client"
    source = tokens(endpoint)
    callers = [asyncio.create_task(source.token()) for _ in range(3)]

    async def asked() -> bool:
        return bool(endpoint.forms)

    await until(asked)
    endpoint.gate.set()
    failures = await asyncio.gather(*callers, return_exceptions=True)
    assert all(isinstance(f, TokenUnavailable) for f in failures)
    assert len(endpoint.forms) == 1  # not one request after another, each its own timeout


async def test_a_caller_that_gives_up_does_not_cancel_the_fetch(endpoint: TokenEndpoint) -> None:
    endpoint.gate = threading.Event()
    source = tokens(endpoint)
    impatient = asyncio.create_task(source.token())
    patient = asyncio.create_task(source.token())

    async def asked() -> bool:
        return bool(endpoint.forms)

    await until(asked)
    impatient.cancel()
    endpoint.gate.set()
    assert await patient == endpoint.issued[0]
    assert impatient.cancelled()
    assert len(endpoint.forms) == 1


# --- failures ---------------------------------------------------------------------------------


async def test_a_refusing_endpoint_says_why_without_the_secret(endpoint: TokenEndpoint) -> None:
    source = ClientCredentialTokens(
        endpoint.url, lambda: secret_form() | {"client_secret": "Wrong-" + SECRET}
    )
    with pytest.raises(TokenUnavailable) as refused:
        await source.token()
    said = everything_said(refused.value)
    assert "HTTP 400 invalid_client" in str(refused.value)
    assert endpoint.url in str(refused.value)
    assert SECRET not in said
    assert "AADSTS" not in said  # the endpoint's own words are not repeated
    assert source.cached is None
    assert SECRET not in repr(source)


async def test_an_error_code_that_is_not_one_is_not_repeated(endpoint: TokenEndpoint) -> None:
    endpoint.refuse = f"bad secret {SECRET}"
    with pytest.raises(TokenUnavailable) as refused:
        await tokens(endpoint).token()
    assert str(refused.value).endswith("refused: HTTP 400")
    assert SECRET not in everything_said(refused.value)


@pytest.mark.parametrize("lifetime", ["soon", None, -5, True])
async def test_an_answer_without_a_usable_token_is_refused(
    endpoint: TokenEndpoint, lifetime: object
) -> None:
    endpoint.lifetime = lifetime
    with pytest.raises(TokenUnavailable, match="refused: HTTP 200"):
        await tokens(endpoint).token()


async def test_an_unreachable_endpoint_says_so_without_the_secret() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}/oauth2/v2.0/token"
    with pytest.raises(TokenUnavailable, match="cannot be reached") as unreachable:
        await ClientCredentialTokens(url, secret_form).token()
    assert SECRET not in everything_said(unreachable.value)


async def test_a_slow_endpoint_is_given_up_on_after_the_timeout(endpoint: TokenEndpoint) -> None:
    endpoint.gate = threading.Event()  # never set: the endpoint does not answer
    source = tokens(endpoint, timeout=0.2)
    with pytest.raises(TokenUnavailable, match=r"cannot be reached \(TimeoutError\)") as slow:
        await source.token()
    assert endpoint.forms  # it was asked, and did not answer in time
    assert "answered" not in endpoint.events
    assert SECRET not in everything_said(slow.value)


async def test_after_a_failure_the_next_caller_tries_again(endpoint: TokenEndpoint) -> None:
    endpoint.refuse = "temporarily_unavailable"
    source = tokens(endpoint)
    with pytest.raises(TokenUnavailable):
        await source.token()
    endpoint.refuse = None
    assert await source.token() == endpoint.issued[0]


# --- client assertions ------------------------------------------------------------------------


async def test_every_fetch_builds_its_form_again_with_a_fresh_assertion(
    endpoint: TokenEndpoint,
) -> None:
    built = 0

    def form() -> dict[str, str]:
        nonlocal built
        built += 1
        assertion = client_assertion(CLIENT, endpoint.url, PEM, key_id="desk-key-1")
        return {
            "grant_type": "client_credentials",
            "client_id": CLIENT,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
        }

    source = ClientCredentialTokens(endpoint.url, form)
    first = await source.token()
    assert await source.token() == first
    assert built == 1  # a cached token needs no form
    source.forget()
    second = await source.token()  # the endpoint refuses an assertion it has seen
    assert second != first
    assert built == 2
    assertions = [f["client_assertion"] for f in endpoint.forms]
    assert len(set(assertions)) == 2
    replayed = ClientCredentialTokens(endpoint.url, lambda: endpoint.forms[0])
    with pytest.raises(TokenUnavailable, match="invalid_client"):
        await replayed.token()


def test_a_client_assertion_is_verifiable_with_the_public_key() -> None:
    audience = "https://globex.okta.com/oauth2/v1/token"
    thumbprint = base64.urlsafe_b64encode(hashlib.sha1(b"certificate").digest()).decode()
    assertion = client_assertion(
        CLIENT, audience, PEM, key_id="desk-key-1", certificate_thumbprint=thumbprint,
        lifetime=120,
    )  # fmt: skip
    header = jwt.get_unverified_header(assertion)
    assert (header["alg"], header["kid"], header["x5t"]) == ("RS256", "desk-key-1", thumbprint)
    claims = jwt.decode(assertion, KEY.public_key(), algorithms=["RS256"], audience=audience)
    assert claims["iss"] == claims["sub"] == CLIENT
    assert claims["exp"] - claims["iat"] == 120
    assert claims["nbf"] <= claims["iat"]
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(assertion, other.public_key(), algorithms=["RS256"], audience=audience)
    again = client_assertion(CLIENT, audience, PEM)
    assert (
        jwt.decode(again, KEY.public_key(), algorithms=["RS256"], audience=audience)["jti"]
        != (claims["jti"])
    )
    bare = jwt.get_unverified_header(again)
    assert "kid" not in bare
    assert "x5t" not in bare


# --- a static token -------------------------------------------------------------------------


async def test_a_static_token_is_handed_out_and_never_shown() -> None:
    source = StaticToken(SECRET)
    assert await source.token() == SECRET
    source.forget()
    assert await source.token() == SECRET
    assert SECRET not in repr(source)
