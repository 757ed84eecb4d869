"""The sim console: a web page to play every simulated phone (``wamd sim --console``).

Served by the control interface's aiohttp application (``ControlServer(console=True)``),
behind the same checks (loopback, ``Host``/``Origin``, the token): ``GET /console`` is
the page (``index.html``, ``console.css``, ``console.js`` in this package: plain files,
no build step, nothing fetched from elsewhere), its actions are the control routes, and
``GET /console/events`` is a websocket on which the sim pushes what changed, as JSON
arrays of events:

- ``{"type": "state", "phones", "groups", "faults", "clock", "clock_offset"}``: when any
  of it changes (accounts, devices online or not, groups, fault rules);
- ``{"type": "message", "phone", "message"}``: each message a phone received or sent
  (``message_json``, media with the URL of their bytes);
- ``{"type": "receipt", "phone", "id", "kind", "from"}``: receipts for a phone's
  messages (``kind`` ``""`` delivered, ``"read"``...), for the ticks;
- ``{"type": "notification", "phone", "chat", "text"}``: group notifications, described;
- ``{"type": "chatstate", "phone", "chat", "from", "state"}``: typing, as it arrives;
- ``{"type": "stanza", ...}``: every node on every client connection (``wamd.sim.tap``).

Nothing is recorded while no page is connected: the stanza tap has no listener and the
poller does not run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from wamd.binary import JID, Node
from wamd.binary.jid import GROUP_SERVER, InvalidJID
from wamd.sim.tap import TappedNode

if TYPE_CHECKING:
    from wamd.sim.account import SimPhone
    from wamd.sim.control import ControlServer

__all__ = ["Console", "describe_notification"]

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.2  # seconds between looks at the phones while a page is connected
MAX_QUEUE = 5000  # immediate events (stanzas, typing) held for a slow page; more are dropped
STATIC = {
    "index.html": "text/html",
    "console.css": "text/css",
    "console.js": "text/javascript",
}


def _static(name: str) -> bytes:
    return resources.files(__package__).joinpath(name).read_bytes()


class _Page:
    """One connected page: its websocket, its cursors, events waiting to go out."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: list[dict[str, Any]] = []
        self.dropped = 0
        self.history: dict[str, int] = {}
        self.receipts: dict[str, int] = {}
        self.notifications: dict[str, int] = {}
        self.state = ""
        self.wake = asyncio.Event()

    def push(self, event: dict[str, Any]) -> None:
        if len(self.queue) >= MAX_QUEUE:
            self.dropped += 1
            return
        self.queue.append(event)
        self.wake.set()


class Console:
    """The console half of a ``ControlServer`` (the page, its websocket, the tap)."""

    def __init__(self, control: ControlServer) -> None:
        self.control = control
        self.sim = control.sim
        self.pages: set[_Page] = set()
        self._teed: set[str] = set()  # phones whose primary device we listen to

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/console", self._page)
        app.router.add_get("/console/events", self._events)
        app.router.add_get("/console/static/{name}", self._file)

    def changed(self) -> None:
        """A control action ran: look again now rather than at the next tick."""
        for page in self.pages:
            page.wake.set()

    async def close(self) -> None:
        for page in list(self.pages):
            with contextlib.suppress(Exception):
                await page.ws.close()

    # ------------------------------------------------------------------ HTTP

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=_static("index.html"),
            content_type="text/html",
            headers={
                "Cache-Control": "no-store",
                # the page loads only its own files; nothing may frame it
                "Content-Security-Policy": (
                    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                    "connect-src 'self'; frame-ancestors 'none'"
                ),
                "X-Frame-Options": "DENY",
            },
        )

    async def _file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound(reason=f"no file {name[:64]!r}")
        return web.Response(
            body=_static(name), content_type=STATIC[name], headers={"Cache-Control": "no-store"}
        )

    async def _events(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=1 << 16)
        await ws.prepare(request)
        page = _Page(ws)
        self.pages.add(page)
        if len(self.pages) == 1:
            self.sim.tap.listen(self._stanza)
        pump = asyncio.ensure_future(self._pump(page))
        try:
            async for message in ws:
                if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            self.pages.discard(page)
            if not self.pages:
                self.sim.tap.unlisten(self._stanza)
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump
        return ws

    # ------------------------------------------------------------------ events

    def _stanza(self, entry: TappedNode) -> None:
        event = {"type": "stanza", **entry.to_json()}
        for page in self.pages:
            page.push(event)

    def _tee(self, phone: SimPhone) -> None:
        """Listen to what reaches the phone itself, for typing indicators (once)."""
        if phone.number in self._teed or phone.primary.endpoint is None:
            return
        self._teed.add(phone.number)
        original = phone.primary.endpoint

        def tee(node: Node) -> None:
            if node.tag == "chatstate" and self.pages:
                self._chatstate(phone, node)
            original(node)

        phone.primary.endpoint = tee

    def _chatstate(self, phone: SimPhone, node: Node) -> None:
        children = node.get_children()
        if not children:
            return
        state = children[0].tag
        if state == "composing" and children[0].attrs.get("media") == "audio":
            state = "recording"
        sender = node.attrs.get("participant") or node.attrs.get("from", "")
        chat = node.attrs.get("from", "")
        event = {
            "type": "chatstate",
            "phone": phone.number,
            "chat": self._pn(chat),
            "from": self._pn(sender),
            "state": state,
        }
        for page in self.pages:
            page.push(event)

    def _pn(self, jid: str) -> str:
        """A user JID in its phone-number form (the chat keys the page uses)."""
        try:
            parsed = JID.parse(jid)
        except InvalidJID:
            return jid
        account = self.sim.account_of(parsed)
        if account is None or parsed.server == GROUP_SERVER:
            return str(parsed.to_non_ad())
        return str(account.jid)

    def _snapshot(self) -> dict[str, Any]:
        from wamd.sim.control import MAX_LOG, group_json

        control = self.control
        faults = self.sim.faults
        return {
            "type": "state",
            "phones": [control._phone_json(p) for p in self.sim.phones.values()],
            "groups": [group_json(g) for g in self.sim.groups.values()],
            "faults": {
                "rules": [r.describe() for r in faults.rules],
                "fired": [{"fault": f, "tag": t, "device": d} for f, t, d in faults.log[-MAX_LOG:]],
            },
            "clock": self.sim.clock(),
            "clock_offset": self.sim.clock_offset,
        }

    def _deltas(self, page: _Page) -> list[dict[str, Any]]:
        from wamd.sim.control import message_json

        events: list[dict[str, Any]] = []
        snapshot = self._snapshot()
        clockless = json.dumps({k: v for k, v in snapshot.items() if k != "clock"})
        if clockless != page.state:
            page.state = clockless
            events.append(snapshot)
        for phone in list(self.sim.phones.values()):
            self._tee(phone)
            number = phone.number
            history = phone.endpoint.history
            start = page.history.get(number, 0)
            for index in range(start, len(history)):
                try:
                    message = message_json(index, history[index], phone)
                except Exception:  # one odd message must not stop the page's updates
                    log.exception("console: cannot show message %d of %s", index, number)
                    continue
                message["chat_key"] = self._pn(message["chat"])  # the chat, by number
                events.append({"type": "message", "phone": number, "message": message})
            page.history[number] = len(history)
            receipts = phone.receipts
            start = page.receipts.get(number, 0)
            for receipt in receipts[start:]:
                events.append(
                    {
                        "type": "receipt",
                        "phone": number,
                        "id": receipt.id,
                        "kind": receipt.type,
                        "from": str(receipt.sender),
                    }
                )
            page.receipts[number] = len(receipts)
            notifications = phone.endpoint.notifications
            start = page.notifications.get(number, 0)
            for node in notifications[start:]:
                try:
                    text = describe_notification(self.sim, node)
                except Exception:
                    log.exception("console: cannot describe a notification to %s", number)
                    continue
                if text is not None:
                    chat = node.attrs.get("from", "")
                    events.append(
                        {
                            "type": "notification",
                            "phone": number,
                            "chat": chat,
                            "text": text,
                            "t": node.attrs.get("t"),
                        }
                    )
            page.notifications[number] = len(notifications)
        return events

    async def _pump(self, page: _Page) -> None:
        try:
            while not page.ws.closed:
                page.wake.clear()
                events = self._deltas(page)
                events += page.queue
                page.queue = []
                if page.dropped:
                    events.append({"type": "dropped", "count": page.dropped})
                    page.dropped = 0
                if events:
                    await page.ws.send_str(json.dumps(events))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(page.wake.wait(), POLL_INTERVAL)
        except (ConnectionError, RuntimeError) as exc:
            log.debug("console page went away: %s", exc)


def describe_notification(sim: Any, node: Node) -> str | None:
    """A group notification (``w:gp2``) as the chat shows it: "Alice added Bob"."""
    if node.attrs.get("type") != "w:gp2":
        return None

    def name(jid: str) -> str:
        try:
            account = sim.account_of(JID.parse(jid))
        except InvalidJID:
            return jid
        return str(account.name) if account is not None else jid.split("@")[0]

    actor = name(node.attrs.get("participant", ""))
    lines = []
    for child in node.get_children():
        members = [name(p.attrs.get("jid", "")) for p in child.get_children("participant")]
        who = ", ".join(members)
        if child.tag == "create":
            group = child.get_child("group")
            subject = group.attrs.get("subject", "") if group is not None else ""
            lines.append(f"{actor} created the group “{subject}”")
        elif child.tag == "add":
            lines.append(f"{actor} added {who}")
        elif child.tag == "remove":
            lines.append(f"{actor} removed {who}")
        elif child.tag == "promote":
            lines.append(f"{actor} made {who} an admin")
        elif child.tag == "demote":
            lines.append(f"{actor} dismissed {who} as admin")
        elif child.tag == "subject":
            lines.append(f"{actor} changed the subject to “{child.attrs.get('subject', '')}”")
        elif child.tag == "description":
            lines.append(f"{actor} changed the group description")
        else:
            lines.append(f"{actor}: {child.tag}")
    return "; ".join(lines) if lines else None
