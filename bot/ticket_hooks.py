"""The webhook the IT team's ticket system calls when a ticket changes:
`POST /webhooks/<system>` (`servicenow`, `jsm`). The call is checked before anything is
read from it (`TicketWebhooks.parse`): a forged, unsigned or malformed one gets 401 and
changes nothing; a good one is answered once its changes are applied (`TicketSync`)."""

from __future__ import annotations

import structlog
from aiohttp import web

from bot.ports import WebhookRefused
from bot.ticket_sync import TicketSync

log = structlog.get_logger("itdesk.ticket_webhook")
MAX_BODY = 256 * 1024


def mount_ticket_webhooks(app: web.Application, system: str, sync: TicketSync) -> None:
    async def called(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > MAX_BODY:
            return web.json_response({"error": "body too large"}, status=413)
        body = await request.read()
        try:
            applied = await sync.receive(request.headers, body)
        except WebhookRefused as exc:
            log.warning("ticket_webhook.refused", system=system, reason=str(exc)[:200])
            return web.json_response({"error": "not a call from the ticket system"}, status=401)
        return web.json_response({"applied": applied})

    app.router.add_post(f"/webhooks/{system}", called)
