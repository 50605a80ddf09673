"""Runbooks read from Confluence: the client against the fake site (paging, refusals,
throttling), the storage format as text, the cached source, and the spec slice."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from servers.confluence import FakeConfluence, running_confluence
from servers.confluence_spec import problems
from structlog.testing import capture_logs

from adapters.knowledge.confluence import (
    ConfluenceClient,
    ConfluencePage,
    ConfluenceRefused,
    ConfluenceUnavailable,
)
from adapters.knowledge.confluence_runbooks import ConfluenceRunbooks, runbooks_of
from adapters.knowledge.storage_text import StorageFormatError, storage_text
from bot.clock import ManualClock
from bot.knowledge import KnowledgeBase, Runbook
from bot.settings_tickets import TicketSettings

VPN_PAGE = """<h1>Overview</h1>
<p>Staff connect to the office network from home with <strong>GlobalProtect</strong>&nbsp;&mdash;
the VPN client on every laptop.</p>
<ac:structured-macro ac:name="info" ac:schema-version="1" ac:macro-id="a1b2">
  <ac:rich-text-body><p>You need the authenticator app set up first.</p></ac:rich-text-body>
</ac:structured-macro>
<h2>Steps</h2>
<ol>
  <li><p>Open GlobalProtect from the menu bar.</p></li>
  <li>Enter the portal <code>vpn.example.com</code>
    <ul><li>Accept the certificate prompt once.</li></ul>
  </li>
  <li>Sign in with your work account &amp; approve the push.</li>
</ol>
<p><ac:image ac:width="400"><ri:attachment ri:filename="globalprotect-login.png" /></ac:image></p>
<ac:structured-macro ac:name="code" ac:schema-version="1">
  <ac:parameter ac:name="language">bash</ac:parameter>
  <ac:plain-text-body><![CDATA[sudo launchctl kickstart -k system/com.paloaltonetworks.gp.pangpsd
ping -c 3 10.0.0.1 && echo "ok"]]></ac:plain-text-body>
</ac:structured-macro>
<table><tbody>
  <tr><th><p>Message</p></th><th><p>What to do</p></th></tr>
  <tr><td><p>Gateway not responding</p></td><td><p>Switch networks, then see
    <ac:link><ri:page ri:content-title="Wi-Fi troubleshooting" /><ac:plain-text-link-body>
    <![CDATA[the Wi-Fi page]]></ac:plain-text-link-body></ac:link></p></td></tr>
</tbody></table>
<ac:structured-macro ac:name="html"><ac:plain-text-body><![CDATA[<script>steal()</script>]]>
</ac:plain-text-body></ac:structured-macro>"""

PRINTER_PAGE = "<h2>Adding a printer</h2><p>Open Settings, Printers, then Add printer.</p>"


class Sleeps:
    """The injected sleep: records each wait and moves the clock that far."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(timedelta(seconds=seconds))


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 12, 4, 9, 0, tzinfo=UTC))


@pytest.fixture
def fake() -> Iterator[FakeConfluence]:
    with running_confluence() as site:
        site.add_space("IT", "IT runbooks")
        site.add_space("NET", "Network")
        yield site


def client(
    fake: FakeConfluence, sleep: Sleeps, *, token: str | None = None, timeout: float = 10
) -> ConfluenceClient:
    return ConfluenceClient(fake.url, fake.email, SecretStr(token or fake.api_token),
                            sleep=sleep, timeout=timeout)  # fmt: skip


def source(fake: FakeConfluence, clock: ManualClock, sleep: Sleeps) -> ConfluenceRunbooks:
    settings = TicketSettings(
        confluence_url=fake.url, confluence_email=fake.email,
        confluence_api_token=SecretStr(fake.api_token), confluence_spaces="IT, NET",
        confluence_refresh_minutes=30,
    )  # fmt: skip
    found = ConfluenceRunbooks.from_settings(settings, clock=clock, sleep=sleep)
    assert found is not None
    return found


# --- the storage format ---------------------------------------------------------------------


def test_a_runbook_page_reads_as_text_with_its_steps_code_panel_and_table() -> None:
    text = storage_text(VPN_PAGE)
    assert text.startswith("# Overview\n\nStaff connect to the office network from home with "
                           "GlobalProtect — the VPN client on every laptop.")  # fmt: skip
    assert "Info: You need the authenticator app set up first." in text
    assert "## Steps" in text
    assert ("1. Open GlobalProtect from the menu bar.\n"
            "2. Enter the portal `vpn.example.com`\n"
            "  - Accept the certificate prompt once.\n"
            "3. Sign in with your work account & approve the push.") in text  # fmt: skip
    assert ("```bash\nsudo launchctl kickstart -k system/com.paloaltonetworks.gp.pangpsd\n"
            'ping -c 3 10.0.0.1 && echo "ok"\n```') in text  # fmt: skip
    assert (
        "Message | What to do\nGateway not responding | Switch networks, then see the Wi-Fi page"
        in text
    )
    for dropped in ("globalprotect-login.png", "script", "steal", "ac:", "ri:", "&nbsp;", "<"):
        assert dropped not in text


def test_a_page_that_is_not_well_formed_is_refused_not_half_read() -> None:
    with pytest.raises(StorageFormatError):
        storage_text("<p>Restart the <strong>router</p>")
    with pytest.raises(StorageFormatError):  # a page cannot bring its own entities
        storage_text('<!DOCTYPE x [<!ENTITY a "aaaa">]><p>&a;</p>')


def test_unknown_entities_and_macros_keep_their_text() -> None:
    text = storage_text('<p>R&amp;D &copy; &bogus;</p><ac:structured-macro ac:name="expand">'
                        "<ac:rich-text-body><p>Hidden detail</p></ac:rich-text-body>"
                        "</ac:structured-macro>")  # fmt: skip
    assert text == "R&D © &bogus;\n\nHidden detail"


# --- the client -----------------------------------------------------------------------------


async def test_every_page_of_several_spaces_is_read_over_pages(
    fake: FakeConfluence, clock: ManualClock
) -> None:
    ids = [fake.add_page("IT", f"IT page {n}", f"<p>it {n}</p>") for n in range(5)]
    ids += [fake.add_page("NET", f"NET page {n}", f"<p>net {n}</p>") for n in range(3)]
    fake.add_page("HR", "Not ours", "<p>hr</p>")
    pages = await client(fake, Sleeps(clock)).pages(("IT", "NET"))
    assert [p.id for p in pages] == ids
    assert pages[0].url == fake.web_url(ids[0])
    assert (pages[6].space, pages[6].title, pages[6].version) == ("NET", "NET page 1", 1)
    searches = [e for e in fake.exchanges if e.path.endswith("/content/search")]
    assert len(searches) == 3 + 2  # 5 pages two a time, then 3
    assert [("cursor" in e.query) for e in searches] == [False, True, True, False, True]
    assert {e.query["expand"] for e in searches} == {"body.storage,version,space"}
    assert problems(fake.exchanges) == []


async def test_a_space_the_desk_may_not_read_is_skipped(
    fake: FakeConfluence, clock: ManualClock
) -> None:
    fake.add_page("IT", "VPN", "<p>vpn</p>")
    fake.add_page("NET", "Secret", "<p>x</p>")
    fake.refuse_space("NET")
    with capture_logs() as logs:
        pages = await client(fake, Sleeps(clock)).pages(("NET", "IT"))
    assert [p.title for p in pages] == ["VPN"]
    assert {"event": "confluence_space_skipped", "space": "NET", "status": 403,
            "log_level": "warning"} in logs  # fmt: skip
    assert problems(fake.exchanges) == []


async def test_a_refused_sign_in_is_the_operators_to_fix_and_hides_the_token(
    fake: FakeConfluence, clock: ManualClock
) -> None:
    with pytest.raises(ConfluenceRefused) as refused:
        await client(fake, Sleeps(clock), token="wrong-token-xyz").pages(("IT",))
    assert "ITDESK_CONFLUENCE_API_TOKEN" in str(refused.value)
    assert "wrong-token-xyz" not in str(refused.value)
    assert "wrong-token-xyz" not in repr(client(fake, Sleeps(clock), token="wrong-token-xyz"))
    assert fake.exchanges[-1].status == 401


@pytest.mark.parametrize("status", [429, 503])
async def test_a_throttled_read_waits_retry_after_and_goes_on(
    fake: FakeConfluence, clock: ManualClock, status: int
) -> None:
    fake.add_page("IT", "VPN", "<p>vpn</p>")
    fake.throttle(2, status=status, retry_after="7")
    sleeps = Sleeps(clock)
    pages = await client(fake, sleeps).pages(("IT",))
    assert [p.title for p in pages] == ["VPN"]
    assert sleeps.waits == [7.0, 7.0]
    assert [e.status for e in fake.exchanges] == [status, status, 200]
    assert problems(fake.exchanges) == []


async def test_an_answer_that_does_not_come_is_given_up_on(
    fake: FakeConfluence, clock: ManualClock
) -> None:
    fake.add_page("IT", "VPN", "<p>vpn</p>")
    fake.stall = 1.0
    with pytest.raises(ConfluenceUnavailable, match="TimeoutError"):
        await client(fake, Sleeps(clock), timeout=0.2).pages(("IT",))


async def test_a_next_page_on_another_site_is_not_followed(
    fake: FakeConfluence, clock: ManualClock
) -> None:
    for n in range(3):
        fake.add_page("IT", f"Page {n}", "<p>x</p>")
    fake.links_to = "https://elsewhere.example"
    with pytest.raises(ConfluenceUnavailable, match="another site"):
        await client(fake, Sleeps(clock)).pages(("IT",))
    assert len(fake.exchanges) == 1


async def test_a_wait_asked_for_is_bounded(fake: FakeConfluence, clock: ManualClock) -> None:
    fake.add_page("IT", "VPN", "<p>vpn</p>")
    fake.throttle(1, retry_after="86400")
    sleeps = Sleeps(clock)
    await client(fake, sleeps).pages(("IT",))
    assert sleeps.waits == [60.0]


# --- the cached runbooks ----------------------------------------------------------------------


async def test_a_knowledge_base_built_from_the_pages_answers_with_the_page(
    fake: FakeConfluence, clock: ManualClock
) -> None:
    vpn = fake.add_page("IT", "Connecting to the VPN", VPN_PAGE)
    fake.add_page("NET", "Adding a printer", PRINTER_PAGE)
    runbooks = await source(fake, clock, Sleeps(clock)).runbooks()
    kb = KnowledgeBase([*runbooks, Runbook("Lunch menu", "Soup on Fridays.", "org")])
    assert all(r.url is None for r in kb.runbooks if r.source == "org")
    hits = kb.search("how do I connect to the vpn from home?")
    assert [h.title for h in hits] == ["Connecting to the VPN"]
    cited = next(r for r in kb.runbooks if r.title == hits[0].title)
    assert cited.url == fake.web_url(vpn) == cited.source
    assert "vpn.example.com" in hits[0].body
    assert [h.title for h in kb.search("how do I add a printer?")] == ["Adding a printer"]
    assert [h.title for h in kb.search("what's for lunch?")] == ["Lunch menu"]


async def test_a_broken_page_is_skipped_and_the_rest_kept(
    fake: FakeConfluence, clock: ManualClock
) -> None:
    broken = fake.add_page("IT", "Broken", VPN_PAGE)
    fake.add_page("IT", "Adding a printer", PRINTER_PAGE)
    fake.break_page(broken)
    with capture_logs() as logs:
        runbooks = await source(fake, clock, Sleeps(clock)).runbooks()
    assert [r.title for r in runbooks] == ["Adding a printer"]
    assert any(e["event"] == "confluence_page_skipped" and e["page"] == broken for e in logs)


async def test_pages_are_read_again_after_the_interval_only(
    fake: FakeConfluence, clock: ManualClock
) -> None:
    page = fake.add_page("IT", "Adding a printer", PRINTER_PAGE)
    runbooks = source(fake, clock, Sleeps(clock))
    assert "Add printer" in (await runbooks.runbooks())[0].body
    fake.edit_page(page, "<p>Use the print portal at print.example.com.</p>")
    calls = len(fake.exchanges)
    clock.advance(timedelta(minutes=29))
    assert "Add printer" in (await runbooks.runbooks())[0].body
    assert len(fake.exchanges) == calls
    clock.advance(timedelta(minutes=1))
    assert (await runbooks.runbooks())[0].body == "Use the print portal at print.example.com."


async def test_a_failed_refresh_keeps_the_last_good_set_and_says_so(
    fake: FakeConfluence, clock: ManualClock
) -> None:
    fake.add_page("IT", "Adding a printer", PRINTER_PAGE)
    runbooks = source(fake, clock, Sleeps(clock))
    first = await runbooks.runbooks()
    clock.advance(timedelta(minutes=31))
    fake.throttle(4, status=503)  # more than the client waits out
    with capture_logs() as logs:
        assert await runbooks.runbooks() == first
    assert any(e["event"] == "confluence_refresh_failed" and e["kept"] == 1 for e in logs)
    clock.advance(timedelta(minutes=31))
    fake.api_token = "rotated"  # the desk's token revoked: kept too, logged as an error
    with capture_logs() as logs:
        assert await runbooks.runbooks() == first
    assert [e["log_level"] for e in logs if e["event"] == "confluence_refresh_failed"] == ["error"]


async def test_the_first_read_refused_is_raised(fake: FakeConfluence, clock: ManualClock) -> None:
    runbooks = source(fake, clock, Sleeps(clock))
    fake.api_token = "rotated"
    with pytest.raises(ConfluenceRefused):
        await runbooks.runbooks()


async def test_questions_at_the_same_time_share_one_read(
    fake: FakeConfluence, clock: ManualClock
) -> None:
    fake.add_page("IT", "Adding a printer", PRINTER_PAGE)
    runbooks = source(fake, clock, Sleeps(clock))
    both = await asyncio.gather(runbooks.runbooks(), runbooks.runbooks())
    assert both[0] == both[1]
    assert len(both[0]) == 1
    assert len(fake.exchanges) == 2  # one search a space, once


def test_a_page_seen_twice_counts_once_at_its_newest_version() -> None:
    old = ConfluencePage("7", "VPN", "IT", 3, "<p>old</p>", "https://x/wiki/7")
    new = ConfluencePage("7", "VPN", "NET", 4, "<p>new</p>", "https://x/wiki/7")
    assert [r.body for r in runbooks_of([new, old])] == ["new"]
    assert [r.body for r in runbooks_of([old, new])] == ["new"]


async def test_the_spec_check_finds_an_answer_or_request_that_differs(
    fake: FakeConfluence, clock: ManualClock
) -> None:
    fake.add_page("IT", "VPN", "<p>vpn</p>")
    await client(fake, Sleeps(clock)).pages(("IT",))
    sent = fake.exchanges[-1]
    answer = json.loads(sent.answer)
    del answer["size"]
    answer["results"][0]["version"]["number"] = "four"
    changed = dataclasses.replace(sent, answer=json.dumps(answer).encode())
    found = problems([changed])
    assert len(found) == 1  # one answer, its schema errors listed together
    assert "size" in found[0]
    assert "four" in found[0]
    unsigned = {k: v for k, v in sent.headers.items() if k != "Authorization"}
    no_cql = {k: v for k, v in sent.query.items() if k != "cql"}
    assert "Security" in " ".join(problems([dataclasses.replace(sent, headers=unsigned)]))
    assert "cql" in " ".join(problems([dataclasses.replace(sent, query=no_cql)]))


def test_no_confluence_configured_is_no_source() -> None:
    assert ConfluenceRunbooks.from_settings(TicketSettings()) is None
