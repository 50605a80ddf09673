"""The `Checks` contract: issuing a push or a code on a registered factor, learning its
result, codes judged by the desk or by the provider, withdrawal, expiry, NotFound, and
factors or withdrawal a provider may lack."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from backends import ORG, Backend

from bot.models import FactorKind
from bot.ports import CheckRequest, IssuedCheck, NotFoundError, Unsupported

assert ORG.now is not None
T0 = ORG.now
SOON = T0 + timedelta(minutes=10)
CODE_TEXT = "Your verification code for the IT desk: {code}."


def request(
    key: str,
    factor: FactorKind = "push",
    *,
    username: str = "ana",
    code: str | None = None,
    expires_at: datetime = SOON,
) -> CheckRequest:
    message = "Approve sign-in check?" if factor == "push" else CODE_TEXT
    return CheckRequest(key=key, username=username, factor=factor, message=message, code=code,
                        expires_at=expires_at)  # fmt: skip


async def issued_or_unsupported(backend: Backend, asked: CheckRequest) -> IssuedCheck | None:
    """The issued check, or None where the provider lacks the factor (and says so)."""
    if asked.factor not in backend.lacks:
        return await backend.checks.issue(asked)
    with pytest.raises(Unsupported) as caught:
        await backend.checks.issue(asked)
    assert caught.value.capability == asked.factor
    return None


async def test_a_push_is_issued_once_per_key_and_pending_until_answered(
    backend: Backend,
) -> None:
    push = await issued_or_unsupported(backend, request("su-1"))
    if push is None:
        return
    assert (push.kind, push.verifier) == ("push", "provider")
    assert push.address == await backend.directory.factor_address("ana", "push")
    assert push.expires_at <= SOON
    assert await backend.checks.issue(request("su-1")) == push  # a retried issue
    assert (await backend.checks.result(push.id)).status == "pending"


@pytest.mark.parametrize("approve", [True, False])
async def test_a_push_answered_on_the_phone_reads_back(backend: Backend, approve: bool) -> None:
    push = await issued_or_unsupported(backend, request("su-1"))
    if push is None:
        return
    await backend.needs_phone().answer(push.id, approve=approve)
    state = await backend.checks.result(push.id)
    assert state.status == ("approved" if approve else "denied")
    assert state.at is not None
    if "withdraw" not in backend.lacks:
        await backend.checks.withdraw(push.id)  # an answered check stays answered
        assert (await backend.checks.result(push.id)).status == state.status


async def test_a_withdrawn_check_reads_as_withdrawn(backend: Backend) -> None:
    factor: FactorKind = "sms" if "push" in backend.lacks else "push"
    check = await issued_or_unsupported(backend, request("su-1", factor, code="482913"))
    if check is None:
        return
    if "withdraw" in backend.lacks:
        with pytest.raises(Unsupported) as caught:
            await backend.checks.withdraw(check.id)
        assert caught.value.capability == "withdraw"
        assert (await backend.checks.result(check.id)).status == "pending"
        return
    await backend.checks.withdraw(check.id)
    await backend.checks.withdraw(check.id)  # again: no change, no error
    assert (await backend.checks.result(check.id)).status == "withdrawn"


async def test_an_unanswered_check_expires(backend: Backend) -> None:
    factor: FactorKind = "sms" if "push" in backend.lacks else "push"
    check = await issued_or_unsupported(backend, request("su-1", factor, code="482913"))
    if check is None:
        return
    backend.later(check.expires_at - T0)
    assert (await backend.checks.result(check.id)).status == "expired"


async def test_a_code_is_judged_by_whoever_the_provider_says(backend: Backend) -> None:
    code = await issued_or_unsupported(backend, request("su-1", "sms", code="482913"))
    if code is None:
        return
    assert code.kind == "code"
    assert code.address == await backend.directory.factor_address("ana", "sms")
    delivered = await backend.needs_phone().code(code.id)
    if code.verifier == "desk":  # it delivered the desk's code and leaves judging it to the desk
        assert delivered == "482913"
        with pytest.raises(ValueError, match="not a code this provider checks"):
            await backend.checks.verify_code(code.id, "482913")
        assert (await backend.checks.result(code.id)).status == "pending"
        return
    assert delivered is not None
    await provider_judges(backend, code, delivered)


async def test_a_code_left_to_the_provider_is_judged_by_it(backend: Backend) -> None:
    code = await issued_or_unsupported(backend, request("su-1", "sms"))
    if code is None:
        return
    assert code.verifier == "provider"
    delivered = await backend.needs_phone().code(code.id)
    assert delivered is not None
    await provider_judges(backend, code, delivered)


async def provider_judges(backend: Backend, code: IssuedCheck, delivered: str) -> None:
    wrong = f"{(int(delivered) + 1) % 1_000_000:06d}"
    assert not await backend.checks.verify_code(code.id, wrong)
    assert (await backend.checks.result(code.id)).status == "pending"  # it may be typed again
    assert await backend.checks.verify_code(code.id, delivered)
    assert (await backend.checks.result(code.id)).status == "approved"
    assert not await backend.checks.verify_code(code.id, delivered)  # closed now


async def test_checks_nobody_issued_are_not_found(backend: Backend) -> None:
    with pytest.raises(NotFoundError):
        await backend.checks.result("chk-none")
    with pytest.raises(NotFoundError):
        await backend.checks.verify_code("chk-none", "123456")
    with pytest.raises((NotFoundError, Unsupported)) as caught:
        await backend.checks.withdraw("chk-none")
    assert isinstance(caught.value, NotFoundError) or "withdraw" in backend.lacks


async def test_a_check_for_someone_or_a_factor_not_registered_is_not_found(
    backend: Backend,
) -> None:
    with pytest.raises((NotFoundError, Unsupported)):
        await backend.checks.issue(request("su-1", "sms", username="nobody", code="1"))
    ana = backend.seeded("ana").factors
    unregistered = next(f for f in ("email", "totp") if f not in ana)  # sandbox: no e-mail
    with pytest.raises((NotFoundError, Unsupported)) as caught:
        await backend.checks.issue(request("su-2", unregistered, code="482913"))
    assert isinstance(caught.value, NotFoundError) or unregistered in backend.lacks


async def test_a_code_check_must_say_where_the_code_goes(backend: Backend) -> None:
    wordless = request("su-1", "sms", code="482913").model_copy(update={"message": "Hi"})
    if "sms" in backend.lacks:  # refused for the factor before the wording is read
        assert await issued_or_unsupported(backend, wordless) is None
        return
    with pytest.raises(ValueError, match="where the code goes"):
        await backend.checks.issue(wordless)
    fine = await backend.checks.issue(request("su-1", "sms", code="482913"))
    assert fine.kind == "code"  # the refused request left nothing under its key
