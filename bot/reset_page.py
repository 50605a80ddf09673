"""The desk's password reset page, behind the links `bot.reset_links` sends: `GET /reset/<token>`
shows a plain form, `POST /reset/<token>` sets the password the person chose through the
directory's `set_password`.

The token in the path is the credential; a form also carries a nonce good for its one
submission, must come from the page's own origin, and tries are limited per token and per
client address. A password the directory refuses shows its reason with the form again, the
link still good; a changed one uses the link up, is recorded on the case that sent it, told
to the person in that chat and noticed at every address they have. An unknown, used or
expired link is a 410 page that changes nothing. The password is never logged, recorded,
said or kept: on any failure the desk logs the error's type alone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import structlog
from aiohttp import web

from bot import texts
from bot.clock import Clock
from bot.events import PasswordReset
from bot.ports import Directory, Outbox, Unsupported
from bot.reset_html import MAX_PASSWORD, STYLESHEET, STYLESHEET_FILE, document, form_page, paragraph
from bot.scheduler import Job
from bot.state.reset_forms import ResetForms
from bot.state.reset_tokens import ResetGrant, ResetTokens, token_digest
from bot.systemturns import SystemTurns
from verification.notify import notify_change

log = structlog.get_logger("itdesk.reset_page")
PASSWORD_RESET = "password.reset"  # the system turn that tells the person
TOKEN_TRIES = 10  # submissions per link per window
ADDRESS_TRIES = 60  # requests per client address per window
HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}


@dataclass(frozen=True)
class ResetPageDeps:
    tokens: ResetTokens
    forms: ResetForms
    directory: Directory
    outbox: Outbox
    system: SystemTurns
    clock: Clock
    must_change: bool = False
    origin: str | None = None  # the desk's public origin; None: the request's own


def public_origin(url: str | None) -> str | None:
    """`https://desk.example.com` of `https://desk.example.com/any/path`."""
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}".lower()


class ResetPage:
    """The reset page's routes on the desk's aiohttp application."""

    def __init__(self, deps: ResetPageDeps) -> None:
        self._d = deps

    def mount(self, app: web.Application) -> None:
        app.router.add_get(STYLESHEET, self._stylesheet)  # before the token route it fits
        app.router.add_get("/reset/{token}", self._show)
        app.router.add_post("/reset/{token}", self._submit)

    # --- pages ------------------------------------------------------------------------------

    def _page(self, status: int, title: str, text: str, kind: str | None = None) -> web.Response:
        html = document(title, paragraph(text, kind))
        return web.Response(text=html, status=status, content_type="text/html", headers=HEADERS)

    def _gone(self) -> web.Response:
        minutes = int(self._d.tokens.ttl.total_seconds() // 60)
        return self._page(410, texts.say("reset.page.gone_title"),
                          texts.say("reset.page.gone", count=minutes))  # fmt: skip

    def _busy(self) -> web.Response:
        minutes = int(self._d.forms.window.total_seconds() // 60)
        return self._page(429, texts.say("reset.page.busy_title"),
                          texts.say("reset.page.busy", count=minutes))  # fmt: skip

    def _unavailable(self, text: str) -> web.Response:
        return self._page(503, texts.say("reset.page.unavailable_title"), text)

    async def _form(self, token: str, grant: ResetGrant, problem: str | None = None,
                    status: int = 200) -> web.Response:  # fmt: skip
        nonce = await self._d.forms.nonce(token_digest(token))
        html = form_page(grant.username, nonce, problem)
        return web.Response(text=html, status=status, content_type="text/html", headers=HEADERS)

    async def _stylesheet(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STYLESHEET_FILE, headers={"Cache-Control": "max-age=3600"})

    # --- requests ---------------------------------------------------------------------------

    async def _show(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        if not await self._d.forms.tried(f"ip:{request.remote}", limit=ADDRESS_TRIES):
            return self._busy()
        grant = await self._d.tokens.grant(token)
        return self._gone() if grant is None else await self._form(token, grant)

    async def _submit(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._change(request)
        except Exception as exc:  # no traceback: the frames below hold the password
            log.error("reset_page.failed", error=type(exc).__name__)
            return self._unavailable(texts.say("reset.page.unavailable"))

    async def _change(self, request: web.Request) -> web.StreamResponse:
        d, token = self._d, request.match_info["token"]
        digest = token_digest(token)
        if not _same_origin(request, d.origin):
            return self._page(403, texts.say("reset.page.forbidden_title"),
                              texts.say("reset.page.forbidden"), "problem")  # fmt: skip
        if not (await d.forms.tried(f"ip:{request.remote}", limit=ADDRESS_TRIES)
                and await d.forms.tried(digest, limit=TOKEN_TRIES)):  # fmt: skip
            return self._busy()
        grant = await d.tokens.grant(token)
        if grant is None:
            return self._gone()
        form = await request.post()
        password, again = _field(form, "password"), _field(form, "again")
        if not await d.forms.use(digest, _field(form, "nonce")):
            return await self._form(token, grant, texts.say("reset.page.form_expired"), 400)
        problem = _entries_problem(password, again)
        if problem is not None:
            return await self._form(token, grant, problem, 400)
        taken = await d.tokens.take(token)
        if taken is None:  # another submission used it meanwhile
            return self._gone()
        return await self._set(token, taken, password)

    async def _set(self, token: str, taken: ResetGrant, password: str) -> web.StreamResponse:
        """Set the password with the link taken; a refusal or a failure puts it back."""
        d = self._d
        try:
            await d.directory.set_password(taken.username, password, must_change=d.must_change)
        except ValueError as exc:
            await d.tokens.put_back(token, taken)
            log.info("reset_page.refused", user=taken.username, case=taken.case_id)
            reason = texts.say("reset.page.refused", reason=_plain(exc, password))
            return await self._form(token, taken, reason, 422)
        except Exception as exc:
            await d.tokens.put_back(token, taken)
            log.error("reset_page.not_set", user=taken.username, error=type(exc).__name__)
            if isinstance(exc, Unsupported):
                return self._unavailable(texts.say("reset.page.unsupported"))
            return self._unavailable(texts.say("reset.page.unavailable"))
        log.info("reset_page.changed", user=taken.username, case=taken.case_id)
        await self._changed(taken)
        done = texts.say("reset.page.done_must_change" if d.must_change else "reset.page.done")
        return self._page(200, texts.say("reset.page.done_title"), done, "done")

    async def _changed(self, grant: ResetGrant) -> None:
        """Record the change on its case, tell the person there and at every address. The
        password is set by now: a failure here is logged, never shown as "not changed"."""
        d = self._d
        try:
            person = await d.directory.person(grant.username)
            if person is not None:
                await notify_change(person, texts.change_notice("set_password"), d.directory,
                                    d.outbox, d.clock)  # fmt: skip
            if grant.case_id is not None:
                await self._tell(grant, grant.case_id)
        except Exception as exc:
            log.error("reset_page.untold", user=grant.username, error=type(exc).__name__)

    async def _tell(self, grant: ResetGrant, case_id: str) -> None:
        job = Job(id=f"reset-{grant.digest[:16]}", kind=PASSWORD_RESET, due=self._d.clock.now(),
                  payload={})  # fmt: skip
        async with self._d.system.on_case(job, case_id) as (ctx, case):
            if case is None:
                log.warning("reset_page.case_gone", case=case_id)
                return
            event = PasswordReset(user=grant.username, address=grant.address,
                                  must_change=self._d.must_change)  # fmt: skip
            await ctx.record(case, event, actor=grant.username)
            ctx.tell(case, texts.say("reset.changed"))


def _field(form: Mapping[str, object], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _entries_problem(password: str, again: str) -> str | None:
    if not password or not again:
        return texts.say("reset.page.empty")
    if password != again:
        return texts.say("reset.page.mismatch")
    if len(password) > MAX_PASSWORD:
        return texts.say("reset.page.too_long", count=MAX_PASSWORD)
    return None


def _plain(refusal: ValueError, password: str) -> str:
    """The directory's reason, as long as it does not repeat the password."""
    reason = str(refusal).strip()
    return reason if reason and password not in reason else texts.say("reset.page.rules")


def _same_origin(request: web.Request, origin: str | None) -> bool:
    """Whether a submission comes from the page itself. Browsers say so in `Sec-Fetch-Site`;
    older ones send `Origin`, which the page's no-referrer policy turns into "null" (the token
    in the path and the form's nonce still stand then)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    sent = request.headers.get("Origin")
    if sent is None or sent == "null":
        return True
    return sent == (origin or f"{request.scheme}://{request.host}")
