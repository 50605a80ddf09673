"""The desk's own password reset, end to end: a sandbox directory that cannot send reset links
(as OpenLDAP and Active Directory cannot), the desk's link out of band, its page over real
HTTP, the password set through the directory, and no trace of the password anywhere."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from html import escape

import pytest
import structlog
from aiohttp import ClientResponse, test_utils, web
from harness import Conversation, conversation

from adapters.chat.recording import shown_text
from bot import texts
from bot.app import reset_page
from bot.events import PasswordReset
from bot.reset_page import public_origin
from bot.settings import Settings, load_settings
from bot.store import Store

NEW = "Velvet-Otter-Harbour-42"
SHORT = "Qx7#kW"  # refused: too short
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass
class Site:
    """A desk whose directory sends no links, and its reset page served on a local port."""

    desk: Conversation
    client: test_utils.TestClient[web.Request, web.Application]

    async def link(self, user: str) -> str:
        """The token of the newest reset link in `user`'s mailbox (or on their phone)."""
        items = [i for i in await self.desk.world.outbox.items(user) if i.kind == "reset_link"]
        assert items, f"no reset link reached {user}"
        assert items[-1].secret is not None
        return items[-1].secret

    async def asked(self, user: str) -> str:
        """`user` forgot their password and passed the check: the link's token."""
        await self.desk.say(user, "forgot my password, can you send me a reset?")
        await self.desk.verify(user)
        return await self.link(user)

    async def open(self, token: str, status: int = 200) -> str:
        resp = await self.client.get(f"/reset/{token}")
        return await page(resp, status)

    async def choose(self, token: str, password: str, *, again: str | None = None,
                     form: str | None = None, status: int = 200,
                     headers: dict[str, str] | None = None) -> str:  # fmt: skip
        """Fill in the form (the one shown by `form`, else a freshly opened one) and send it."""
        nonce = _nonce(form if form is not None else await self.open(token))
        fields = {"nonce": nonce, "password": password, "again": again or password}
        resp = await self.client.post(f"/reset/{token}", data=fields, headers=headers or {})
        return await page(resp, status)


async def page(resp: ClientResponse, status: int) -> str:
    body = await resp.text()
    assert resp.status == status, body
    for name, value in HEADERS.items():
        assert resp.headers[name] == value
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert "<script" not in body
    return body


def said(key: str, **values: object) -> str:
    """A sentence of the page's, as its HTML shows it."""
    return escape(texts.say(f"reset.page.{key}", **values))


def _nonce(form: str) -> str:
    found = re.search(r'name="nonce" value="([^"]+)"', form)
    assert found, form
    return found[1]


async def site_for(store: Store, settings: Settings | None = None) -> AsyncIterator[Site]:
    desk = await conversation(store, unsupported=("reset_link",), settings=settings)
    served = reset_page(desk.desk, settings)
    assert served is not None
    app = web.Application()
    served.mount(app)
    server = test_utils.TestServer(app, host="127.0.0.1")
    await server.start_server(access_log=None)  # as the desk serves (`bot.app`)
    async with test_utils.TestClient(server) as client:
        yield Site(desk, client)


@pytest.fixture
async def site(store: Store) -> AsyncIterator[Site]:
    async for made in site_for(store):
        yield made


async def test_forgot_password_to_a_new_one_with_no_secret_in_chat(
    site: Site, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    desk, sandbox = site.desk, site.desk.world.directory
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logged:
        token = await site.asked("zoe")
        recovery = await sandbox.recovery_address("zoe")
        case = await desk.case("zoe")
        (item,) = [i for i in await desk.world.outbox.items("zoe") if i.kind == "reset_link"]
        assert item.address == recovery
        assert f"/reset/{token}" in item.text
        assert any(recovery and recovery in t for t in desk.dm_texts("zoe"))
        chat = "\n".join(t for d in desk.chat.deliveries for t in shown_text(d.effect.reply))
        assert token not in chat

        form = await site.open(token)
        assert said("rules") in form
        assert 'type="password"' in form
        refused = await site.choose(token, SHORT, form=form, status=422)
        assert "at least 8 characters" in refused
        assert await sandbox.passwords.record("zoe") is None  # nothing changed
        done = await site.choose(token, NEW, form=refused)  # the form shown with the reason
        assert said("done") in done
        assert await sandbox.passwords.matches("zoe", NEW)
        await site.choose(token, "Another-Password-99", form=refused, status=410)
        await site.open(token, status=410)

    told = [t for t in desk.dm_texts("zoe") if t == texts.say("reset.changed")]
    assert len(told) == 1
    case = await desk.case("zoe")
    ((_, event),) = case.all(PasswordReset)
    assert (event.user, event.address, event.must_change) == ("zoe", recovery, False)
    notices = [i for i in await desk.world.outbox.items("zoe") if "password change" in i.text]
    assert len(notices) >= 2  # every address on record: the work mailbox and the phone
    assert "password change" in texts.change_notice("set_password")
    changes = await sandbox.changes(case.opened_at, desk.clock.now())
    assert [c.op for c in changes] == ["set_password"]

    audit = [json.dumps(r.record) async for r in desk.desk.audit.records()]
    chat = "\n".join(t for d in desk.chat.deliveries for t in shown_text(d.effect.reply))
    mail = [i.model_dump_json() for i in await desk.world.outbox.items("zoe")]
    kept = [await store.redis.get(k) or "" for k in await store.redis.keys("*")
            if await store.redis.type(k) == "string"]  # fmt: skip
    logs = [json.dumps(entry, default=str) for entry in logged] + [caplog.text]
    for where, found in {"audit": audit, "chat": [chat], "outbox": mail, "redis": kept,
                         "logs": logs, "case": [case.model_dump_json()]}.items():  # fmt: skip
        assert not [f for f in found if NEW in f or SHORT in f], where
        # the token is in the mailbox (the sandbox's outbox, in Redis) and nowhere else
        assert not [f for f in found if token in f and '"kind":"reset_link"' not in f], where


async def test_an_expired_link_changes_nothing(site: Site) -> None:
    token = await site.asked("zoe")
    form = await site.open(token)
    site.desk.clock.advance(timedelta(minutes=16))
    gone = await site.open(token, status=410)
    assert said("gone", count=15) in gone
    await site.choose(token, NEW, form=form, status=410)
    assert await site.desk.world.directory.passwords.record("zoe") is None
    assert texts.say("reset.changed") not in site.desk.dm_texts("zoe")


async def test_an_unknown_link_gets_a_clear_page(site: Site) -> None:
    assert "ask the IT desk for a new link" in await site.open("not-a-link", status=410)
    resp = await site.client.post("/reset/not-a-link", data={"password": NEW, "again": NEW})
    await page(resp, 410)


async def test_entries_that_differ_or_a_stale_form_keep_the_link_good(site: Site) -> None:
    token = await site.asked("zoe")
    form = await site.open(token)
    mismatch = await site.choose(token, NEW, again=NEW + "!", form=form, status=400)
    assert said("mismatch") in mismatch
    stale = await site.choose(token, NEW, form=form, status=400)  # its nonce was used
    assert said("form_expired") in stale
    empty = await site.choose(token, "", again="", form=stale, status=400)
    assert said("empty") in empty
    assert await site.desk.world.directory.passwords.record("zoe") is None
    await site.choose(token, NEW, form=empty)


async def test_a_form_sent_from_another_site_is_refused(site: Site) -> None:
    token = await site.asked("zoe")
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.test"}):
        await site.choose(token, NEW, headers=headers, status=403)
    assert await site.desk.world.directory.passwords.record("zoe") is None
    same = {"Sec-Fetch-Site": "same-origin", "Origin": "null"}  # as no-referrer makes it
    await site.choose(token, NEW, headers=same)


async def test_tries_are_limited_per_link(site: Site) -> None:
    token = await site.asked("zoe")
    for _ in range(10):
        await site.choose(token, NEW, again="different!", status=400)
    busy = await site.choose(token, NEW, status=429)
    assert said("busy", count=15) in busy
    assert await site.desk.world.directory.passwords.record("zoe") is None
    fresh = await site.asked("zoe")  # another link counts its own tries
    await site.choose(fresh, NEW)


async def test_a_directory_that_cannot_set_the_password_keeps_the_link(site: Site) -> None:
    token = await site.asked("zoe")
    site.desk.world.directory.capabilities.lacking |= {"set_password"}
    unsupported = await site.choose(token, NEW, status=503)
    assert said("unsupported") in unsupported
    site.desk.world.directory.capabilities.lacking -= {"set_password"}
    await site.choose(token, NEW)


async def test_a_password_to_change_at_next_sign_in_is_said_so(store: Store) -> None:
    settings = load_settings(password_must_change=True)
    async for site in site_for(store, settings):
        token = await site.asked("zoe")
        done = await site.choose(token, NEW)
        assert said("done_must_change") in done
        kept = await site.desk.world.directory.passwords.record("zoe")
        assert kept is not None
        assert kept.must_change


async def test_the_page_is_served_only_where_the_desks_links_point(store: Store) -> None:
    own = await conversation(store.child("own"))  # the sandbox sends its own links
    assert reset_page(own.desk, None) is None
    portal = load_settings(password_reset_url="https://reset.initech.test")
    desk = await conversation(store.child("portal"), unsupported=("reset_link",), settings=portal)
    assert reset_page(desk.desk, portal) is None
    await desk.say("zoe", "forgot my password, can you send me a reset?")
    await desk.verify("zoe")
    (item,) = [i for i in await desk.world.outbox.items("zoe") if i.kind == "reset_link"]
    assert "https://reset.initech.test" in item.text
    assert item.secret is None


def test_the_public_origin_is_scheme_and_host() -> None:
    assert public_origin("https://Desk.Initech.test:8443/it/") == "https://desk.initech.test:8443"
    assert public_origin(None) is None
