"""The sim's HTTP/JSON control interface (``wamd sim --control-port N``), and the web
console (``wamd sim --console``) served by the same aiohttp application.

It binds to loopback only unless ``allow_remote=True``: anyone who reaches it can link
devices to the simulated accounts and read every message they receive. Every request
carries the interface's token (``ControlServer.token``, printed by ``wamd sim``):
``Authorization: Bearer <token>``, or the cookie the console page sets after it is
opened as ``/console?token=<token>``; without it the answer is 401.

Routes (``N`` is a phone number, digits only)::

    GET  /                          url, root public key (hex), root serial, clock
    GET  /phones                    every phone with its devices
    POST /phones                    {"number": N, "name": "Alice", "business": false} -> 201
    GET  /phones/N                  one phone
    POST /phones/N/scan             {"qr": "https://wa.me/settings/linked_devices#..."}
    POST /phones/N/code             {"code": "ABCD-EFGH"}   (phone-number pairing)
    POST /phones/N/unlink           {"device": "N:1@s.whatsapp.net" | 1}
    POST /phones/N/offline          the primary phone goes offline (14-day expiry counts)
    POST /phones/N/online
    POST /phones/N/send             {"to": "M" | "M@s.whatsapp.net" | "G@g.us", "text": "hi",
                                    "quoted": ID, "mentions": ["M", ...]}  (both optional;
                                    ID: a message this phone received)
    POST /phones/N/send-media       ?to=M&kind=image|video|audio|document|sticker
                                    [&caption=..&file_name=..&mimetype=..&ptt=1&seconds=S]
                                    the body is the file itself (up to 16 MiB): the phone
                                    encrypts it, uploads it to the sim's media host, sends it
    GET  /phones/N/media/ID         the decrypted bytes of a media message the phone
                                    received (or sent), with its mimetype
    POST /phones/N/react            {"id": ID, "emoji": "👍"}  ("" takes the reaction back)
    POST /phones/N/read             {"id": ID}  a read receipt (blue ticks) for it
    POST /phones/N/typing           {"to": "M", "state": "composing" | "paused"}
    POST /phones/N/edit             {"id": ID, "text": "..."}  ID: a message this phone sent
    POST /phones/N/revoke           {"id": ID}  delete it for everyone
    POST /phones/N/poll             {"to": "M", "name": "Lunch?", "options": [..], "selectable": 1}
    POST /phones/N/vote             {"id": POLL_ID, "options": ["Pizza"]}
    POST /phones/N/chat             {"chat": "M", "action": "archive"|"unarchive"|"pin"|"unpin"|
                                    "mute"|"unmute"|"mark-read"|"mark-unread"|"clear"|"delete"}
                                    an app-state patch, as the phone's chat list makes it
    POST /phones/N/groups           {"subject": "Team", "members": ["M", ...]}  -> 201
    POST /phones/N/groups/G/add     {"members": ["M", ...]}; also /remove, /promote, /demote
                                    -> {"results": {"M@s.whatsapp.net": 0 | 404 | 409}}
    POST /phones/N/groups/G/subject {"subject": "New name"}
    GET  /phones/N/messages         ?after=K: what the phone received from index K on
    GET  /phones/N/messages/next    ?timeout=S: the next message not yet handed out by
                                    this route (waits up to S seconds, then 408)
    GET  /phones/N/history          ?after=K: what the phone received and sent, in order
    GET  /groups                    every group: subject, participants and their roles
    POST /clock                     {"offset": seconds}  moves the sim's clock
    GET  /faults                    the fault rules, and the newest faults fired
    POST /faults                    {"kind": "drop"|"delay"|"duplicate"|"reorder"|
                                    "disconnect"|"stream-error", "direction": "out"|"in",
                                    "probability", "tags", "xmlns", "device", "count",
                                    "seconds", "code"}  -> 201
    POST /faults/clear              no more faults
    POST /faults/disconnect         {"device": JID}  drop its connection
    POST /faults/stream-error       {"device": JID, "code": 515|440|503|...}
    POST /faults/refuse-logins      {"count": N, "seconds": S, "reason": 503}
    GET  /console                   the console page (with --console; wamd/sim/console/)
    GET  /console/events            its websocket: what changed, and the stanza log

Requests from a web page are refused with 403: a ``Host`` that is not this machine, an
``Origin`` other than this interface's own, ``Sec-Fetch-Site: cross-site``.

Every JSON answer is one JSON object and a newline. A body field a route does not take
is refused (400, naming it), so a misspelt option never passes silently.

Errors are ``{"error": "..."}`` with 400 (bad request or JSON, an unknown field), 401 (no
or a wrong token), 403 (a browser's cross-origin request or a foreign Host), 404 (no such
phone, message or route), 405 (method), 408 (nothing arrived in time), 409 (the service
refuses, e.g. a fifth companion, an expired QR, a scan whose client went away), 413
(body too large).

Adding a route is one ``_Route(method, pattern, handler, fields)`` line in
``ControlServer.__init__`` and one handler ``(match, query, body) -> (status, json)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from aiohttp import web

from wamd.binary import JID
from wamd.binary.jid import DEFAULT_USER_SERVER, GROUP_SERVER, InvalidJID
from wamd.errors import ConnectionClosed, MediaError, PairingError
from wamd.media.info import media_info
from wamd.proto import e2e_pb2
from wamd.sim.faults import FaultRule
from wamd.sim.phone import SimMessage
from wamd.sim.server import SimDevice, SimError, SimPhone, SimServer

if TYPE_CHECKING:
    from wamd.sim.console import Console

__all__ = ["ControlServer", "is_loopback", "message_json"]

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # bytes of JSON a request may carry
MAX_MEDIA = 16 << 20  # bytes of a file /send-media takes
MAX_WAIT = 60.0  # longest a request may wait for a message (seconds)
MAX_LOG = 100  # faults fired that GET /faults lists (the newest)
SHUTDOWN_TIMEOUT = 1.0  # seconds stop() gives requests still running (a long poll)
_FAULT_FIELDS = (
    "kind",
    "direction",
    "probability",
    "tags",
    "xmlns",
    "device",
    "count",
    "seconds",
    "code",
)
_CHAT_STATES = ("composing", "paused", "recording")
_MEDIA_KINDS = ("image", "video", "audio", "document", "sticker")
_MEDIA_FIELDS = ("to", "kind", "caption", "file_name", "mimetype", "ptt", "seconds")
_CHAT_ACTIONS = (
    "archive",
    "unarchive",
    "pin",
    "unpin",
    "mute",
    "unmute",
    "mark-read",
    "mark-unread",
    "clear",
    "delete",
)


class HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


Query = dict[str, list[str]]
Body = dict[str, Any]
Handler = Callable[[re.Match[str], Query, Body], Awaitable[tuple[int, Any]]]


class _Route:
    """A route: ``fields`` are the body fields it takes (others are refused). A ``raw``
    route takes the body as bytes (``body["data"]``) and its fields from the query."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler
    fields: frozenset[str] = frozenset()
    raw: bool = False

    def __init__(
        self,
        method: str,
        pattern: str,
        handler: Handler,
        fields: tuple[str, ...] = (),
        *,
        raw: bool = False,
    ) -> None:
        self.method, self.pattern, self.handler = method, re.compile(pattern), handler
        self.fields = frozenset(fields)
        self.raw = raw


class _Bytes:
    """A non-JSON answer (media bytes)."""

    def __init__(self, data: bytes, content_type: str) -> None:
        self.data = data
        self.content_type = content_type


def _text(body: Body, name: str, *, limit: int = 4096) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise HTTPError(400, f"{name!r} must be a non-empty string")
    if len(value) > limit:
        raise HTTPError(400, f"{name!r} is longer than {limit} characters")
    return value


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise HTTPError(400, f"{what} must be a number")
    return float(value)


def _user_jid(value: str) -> JID:
    """A phone number ("15550001111", "+1 555...") or a JID as a JID."""
    digits = value.lstrip("+").replace(" ", "")
    if digits.isdigit():
        return JID(digits, DEFAULT_USER_SERVER)
    try:
        return JID.parse(value)
    except InvalidJID:
        raise HTTPError(400, f"{value[:64]!r} is neither a phone number nor a JID") from None


def _code(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 999:
        raise HTTPError(400, f"{what} must be a three-digit integer")
    return value


def _device_jid(value: str) -> JID:
    try:
        return JID.parse(value)
    except InvalidJID:
        raise HTTPError(400, f"{value[:64]!r} is not a JID") from None


def message_json(index: int, message: SimMessage, phone: SimPhone | None = None) -> dict[str, Any]:
    """A message as the control interface shows it; with ``phone`` (whose message it is)
    media carry the URL of their decrypted bytes and poll votes their options."""
    content = message.message
    kinds = [field.name for field, _ in content.ListFields()]
    out = {
        "index": index,
        "id": message.id,
        "chat": str(message.chat),
        "sender": str(message.sender),
        "from_me": message.from_me,
        "timestamp": message.timestamp,
        "text": message.text,
        "kinds": kinds,
        **_context_json(content),
    }
    inner = content.deviceSentMessage.message if content.HasField("deviceSentMessage") else content
    info = media_info(inner)
    if info is not None:
        media: dict[str, Any] = {
            "kind": info.kind,
            "mimetype": info.mimetype,
            "size": info.file_length,
        }
        for name in ("caption", "file_name", "seconds", "width", "height"):
            value = getattr(info, name)
            if value is not None:
                media[name] = value
        if phone is not None:
            media["url"] = f"/phones/{phone.number}/media/{message.id}"
            got = phone.received_media.get(message.id)
            if isinstance(got, MediaError):
                media["error"] = str(got)
        out["media"] = media
    out.update(_special_json(inner, message, phone))
    return out


def _special_json(inner: Any, message: SimMessage, phone: SimPhone | None) -> dict[str, Any]:
    """Edits, revokes, polls and votes."""
    out: dict[str, Any] = {}
    if inner.HasField("editedMessage") and inner.editedMessage.HasField("message"):
        inner = inner.editedMessage.message
    if inner.HasField("protocolMessage"):
        proto = inner.protocolMessage
        if proto.type == e2e_pb2.ProtocolMessage.REVOKE:
            out["revoke"] = {"target": proto.key.ID}
        elif proto.type == e2e_pb2.ProtocolMessage.MESSAGE_EDIT:
            edited = proto.editedMessage
            text = (
                edited.conversation
                if edited.HasField("conversation")
                else edited.extendedTextMessage.text
            )
            out["edit"] = {"target": proto.key.ID, "text": text}
    for name in ("pollCreationMessage", "pollCreationMessageV2", "pollCreationMessageV3"):
        if inner.HasField(name):
            poll = getattr(inner, name)
            out["poll"] = {
                "name": poll.name,
                "options": [o.optionName for o in poll.options],
                "selectable": poll.selectableOptionsCount,
            }
    if inner.HasField("pollUpdateMessage"):
        vote: dict[str, Any] = {"target": inner.pollUpdateMessage.pollCreationMessageKey.ID}
        if phone is not None and not message.from_me:
            with contextlib.suppress(SimError):
                vote["options"] = list(phone.read_vote(message))
        out["vote"] = vote
    return out


def _context_json(content: Any) -> dict[str, Any]:
    """What a message points at: the quoted message, the mentioned, a reaction's target."""
    inner = content.deviceSentMessage.message if content.HasField("deviceSentMessage") else content
    out: dict[str, Any] = {}
    if inner.HasField("reactionMessage"):
        reaction = inner.reactionMessage
        out["reaction"] = {"target": reaction.key.ID, "emoji": reaction.text}
    context = None
    for field, value in inner.ListFields():
        if field.message_type is not None and "contextInfo" in field.message_type.fields_by_name:
            if value.HasField("contextInfo"):
                context = value.contextInfo
    if context is not None:
        if context.stanzaID:
            out["quoted_id"] = context.stanzaID
            out["quoted_participant"] = context.participant or None
        if context.mentionedJID:
            out["mentions"] = list(context.mentionedJID)
    return out


def json_response(status: int, payload: Any, *, unauthorized: bool = False) -> web.Response:
    """One JSON object and a newline."""
    response = web.Response(
        status=status,
        body=json.dumps(payload).encode() + b"\n",
        content_type="application/json",
    )
    if unauthorized:
        response.headers["WWW-Authenticate"] = 'Bearer realm="wamd sim"'
    return response


def group_json(group: Any) -> dict[str, Any]:
    return {
        "jid": str(group.jid),
        "subject": group.subject,
        "creator": f"{group.creator}@{DEFAULT_USER_SERVER}",
        "participants": {
            f"{n}@{DEFAULT_USER_SERVER}": role or "member" for n, role in group.participants.items()
        },
    }


class ControlServer:
    """``ControlServer(sim, port=8766)``; ``await start()``; ``url``, ``token``;
    ``await stop()``. ``console=True`` serves the web console too (``console_url``)."""

    def __init__(
        self,
        sim: SimServer,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        allow_remote: bool = False,
        token: str | None = None,
        console: bool = False,
        console_allow_remote: bool = False,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise ValueError(
                f"refusing to serve the sim's control interface on {host!r}: it is not a "
                "loopback address (pass allow_remote=True / --control-allow-remote to insist)"
            )
        if console and not console_allow_remote and not is_loopback(host):
            raise ValueError(
                f"refusing to serve the sim's console on {host!r}: it is not a loopback "
                "address (pass console_allow_remote=True / --console-allow-remote to insist)"
            )
        if token is not None and len(token) < 16:
            raise ValueError("a control token needs at least 16 characters")
        self.sim = sim
        self.allow_remote = allow_remote
        self.console_allow_remote = console_allow_remote
        self.host = host
        self.port = port
        # what every request must carry (Authorization: Bearer, or the console's cookie)
        self.token = token or secrets.token_urlsafe(24)
        self._runner: web.AppRunner | None = None
        self._cursors: dict[str, int] = {}  # phone -> next index /messages/next hands out
        self.console: Console | None = None
        if console:
            from wamd.sim.console import Console

            self.console = Console(self)
        phone = r"/phones/(\d+)"
        group = phone + r"/groups/(\d+(?:-\d+)?)(?:@g\.us)?"
        self._routes = [
            _Route("GET", r"/", self._info),
            _Route("GET", r"/phones", self._list_phones),
            _Route("POST", r"/phones", self._add_phone, ("number", "name", "business")),
            _Route("GET", phone, self._get_phone),
            _Route("POST", phone + "/scan", self._scan, ("qr",)),
            _Route("POST", phone + "/code", self._code, ("code",)),
            _Route("POST", phone + "/unlink", self._unlink, ("device",)),
            _Route("POST", phone + "/offline", self._offline),
            _Route("POST", phone + "/online", self._online),
            _Route("POST", phone + "/send", self._send, ("to", "text", "quoted", "mentions")),
            _Route("POST", phone + "/send-media", self._send_media, _MEDIA_FIELDS, raw=True),
            _Route("GET", phone + r"/media/([A-Za-z0-9.:_-]{1,128})", self._media),
            _Route("POST", phone + "/react", self._react, ("id", "emoji")),
            _Route("POST", phone + "/read", self._read_receipt, ("id",)),
            _Route("POST", phone + "/typing", self._typing, ("to", "state")),
            _Route("POST", phone + "/edit", self._edit, ("id", "text")),
            _Route("POST", phone + "/revoke", self._revoke, ("id",)),
            _Route("POST", phone + "/poll", self._poll, ("to", "name", "options", "selectable")),
            _Route("POST", phone + "/vote", self._vote, ("id", "options")),
            _Route("POST", phone + "/chat", self._chat_action, ("chat", "action", "until_ms")),
            _Route("POST", phone + "/groups", self._create_group, ("subject", "members")),
            _Route("POST", group + "/(add|remove|promote|demote)", self._members, ("members",)),
            _Route("POST", group + "/subject", self._subject, ("subject",)),
            _Route("GET", phone + "/messages", self._messages),
            _Route("GET", phone + "/messages/next", self._next_message),
            _Route("GET", phone + "/history", self._history),
            _Route("GET", r"/groups", self._list_groups),
            _Route("POST", r"/clock", self._set_clock, ("offset",)),
            _Route("GET", r"/faults", self._list_faults),
            _Route("POST", r"/faults", self._add_fault, _FAULT_FIELDS),
            _Route("POST", r"/faults/clear", self._clear_faults),
            _Route("POST", r"/faults/disconnect", self._disconnect, ("device",)),
            _Route("POST", r"/faults/stream-error", self._stream_error, ("device", "code")),
            _Route(
                "POST",
                r"/faults/refuse-logins",
                self._refuse_logins,
                ("count", "seconds", "reason"),
            ),
        ]

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def console_url(self) -> str | None:
        """The console's address with the token (what ``wamd sim --console`` prints)."""
        if self.console is None:
            return None
        return f"{self.url}console?token={self.token}"

    @property
    def cookie_name(self) -> str:
        # cookies are not kept apart by port: one name per interface
        return f"wamd_sim_{self.port}"

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_MEDIA, middlewares=[self._guard])
        if self.console is not None:
            self.console.add_routes(app)
        app.router.add_route("*", "/{tail:.*}", self._api)
        return app

    async def start(self) -> None:
        runner = web.AppRunner(
            self.application(),
            access_log=None,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        if self.port == 0:
            self.port = int(runner.addresses[0][1])
        log.info("sim control interface on %s", self.url)

    async def stop(self) -> None:
        if self.console is not None:
            await self.console.close()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            with contextlib.suppress(Exception):
                await runner.cleanup()

    async def __aenter__(self) -> ControlServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ HTTP

    @web.middleware
    async def _guard(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        """Every request: the browser checks, the console's peer check, the token."""
        try:
            self._check_origin(request.method, request.headers)
            console = request.path.startswith("/console") and self.console is not None
            if console:
                self._check_console_peer(request)
                if request.path == "/console" and "token" in request.query:
                    return self._console_login(request)
            self._check_token(request)
            return await handler(request)
        except HTTPError as exc:
            return json_response(exc.status, {"error": exc.message}, unauthorized=exc.status == 401)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return json_response(exc.status, {"error": exc.reason})
        except (asyncio.CancelledError, ConnectionResetError):
            raise
        except Exception:
            log.exception("control request failed")
            return json_response(500, {"error": "internal error"})

    def _check_token(self, request: web.Request) -> None:
        """The token, from ``Authorization: Bearer`` or the console's cookie (401)."""
        given = ""
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            given = value.strip()
        elif not header:
            given = request.cookies.get(self.cookie_name, "")
        if not given:
            raise HTTPError(401, "this interface needs its token: Authorization: Bearer <token>")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise HTTPError(401, "wrong token")

    def _console_login(self, request: web.Request) -> web.StreamResponse:
        """``/console?token=T``: a good token becomes a cookie, and the page loads
        without the token in its address."""
        given = request.query.get("token", "")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise HTTPError(401, "wrong token")
        response = web.Response(status=303, headers={"Location": "/console"})
        response.set_cookie(
            self.cookie_name, self.token, httponly=True, samesite="Strict", path="/"
        )
        return response

    def _check_console_peer(self, request: web.Request) -> None:
        """The console is for this machine's browser unless told otherwise."""
        if self.console_allow_remote:
            return
        peer = request.remote or ""
        if not is_loopback(peer):
            raise HTTPError(403, f"the console is served to this machine only, not {peer!r}")

    async def _api(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        if path.startswith("/console"):
            raise HTTPError(404, "the console is off (wamd sim --console)")
        matching = [(r, m) for r in self._routes if (m := r.pattern.fullmatch(path))]
        if not matching:
            raise HTTPError(404, f"no route {path[:100]!r}")
        method = request.method
        found = next(((r, m) for r, m in matching if r.method == method), None)
        if found is None:
            raise HTTPError(405, f"{method[:10]} is not allowed on {path[:100]!r}")
        route, match = found
        query = parse_qs(request.query_string)
        raw = await self._read_body(request, MAX_MEDIA if route.raw else MAX_BODY)
        body: Body = {}
        if route.raw:
            body = {name: values[-1] for name, values in query.items()}
            unknown = sorted(set(body) - route.fields)
        else:
            if raw:
                try:
                    parsed = json.loads(raw)
                except (UnicodeDecodeError, json.JSONDecodeError):
                    raise HTTPError(400, "the body is not valid JSON") from None
                if not isinstance(parsed, dict):
                    raise HTTPError(400, "the body must be a JSON object")
                body = parsed
            unknown = sorted(set(body) - route.fields)
        if unknown:
            shown = ", ".join(repr(f[:40]) for f in unknown[:5])
            takes = ", ".join(sorted(route.fields)) or "no body"
            raise HTTPError(400, f"unknown field {shown} (this route takes: {takes})")
        if route.raw:
            body["data"] = raw
        try:
            status, payload = await route.handler(match, query, body)
        except SimError as exc:
            raise HTTPError(409, str(exc)) from None
        except TimeoutError:
            raise HTTPError(408, "the sim gave up waiting (the companion did not answer)") from None
        if isinstance(payload, _Bytes):
            return web.Response(status=status, body=payload.data, content_type=payload.content_type)
        if self.console is not None and method == "POST":
            self.console.changed()
        return json_response(status, payload)

    @staticmethod
    async def _read_body(request: web.Request, limit: int) -> bytes:
        length = request.content_length
        if length is not None and length > limit:
            raise HTTPError(413, f"request body over {limit} bytes")
        chunks: list[bytes] = []
        total = 0
        try:
            while True:
                chunk = await request.content.read(1 << 16)
                if not chunk:
                    break
                total += len(chunk)
                if total > limit:
                    raise HTTPError(413, f"request body over {limit} bytes")
                chunks.append(chunk)
        except HTTPError:
            raise
        except Exception:
            raise HTTPError(400, "incomplete or malformed request") from None
        return b"".join(chunks)

    def _check_origin(self, method: str, headers: Mapping[str, str]) -> None:
        """Refuse what a web page in the user's browser could send (issue 22).

        A page on another site can make the browser send a request here, even a POST
        with a JSON body (as ``text/plain``, with no preflight), and DNS rebinding can
        make the browser call this port under the attacker's own host name. So the
        ``Host`` header must name this machine (``127.0.0.1``, ``localhost``, ``[::1]``
        or the address served, with this port or none; browsers always send one, so a
        request without it is let in), and a request that carries an
        ``Origin`` (browsers add it to every cross-origin request and every POST) must
        come from this interface's own origin. ``Sec-Fetch-Site: cross-site`` is
        refused too. Clients that are not browsers (curl, test harnesses) send neither
        header's foreign form. With ``allow_remote=True`` only the ``Origin`` checks
        apply. The token is checked after these (a page cannot read it; these keep a
        request that guessed or replayed it out as well).
        """
        host = headers.get("host")
        if host is not None and not self.allow_remote and not self._own_host(host):
            raise HTTPError(403, f"Host {host[:100]!r} is not this machine")
        origin = headers.get("origin")
        if origin is not None and origin != "null":
            parsed = urlsplit(origin)
            own = parsed.scheme == "http" and self._own_host(parsed.netloc)
            if not own and self.allow_remote and host is not None:
                own = parsed.scheme == "http" and parsed.netloc.lower() == host.lower()
            if not own:
                raise HTTPError(403, f"cross-origin request from {origin[:100]!r} refused")
        elif origin == "null":
            raise HTTPError(403, "a request from an opaque origin is refused")
        if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            raise HTTPError(403, "cross-site request refused")

    def _own_host(self, value: str) -> bool:
        """Whether a ``Host`` (or origin netloc) value names this interface."""
        name, port = value, ""
        if value.startswith("["):
            name, _, rest = value[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
            if rest and not rest.startswith(":"):
                return False
        elif value.count(":") == 1:
            name, port = value.split(":")
        if port and port != str(self.port):
            return False
        names = {"127.0.0.1", "localhost", "::1", self.host}
        return name.lower() in names

    # ------------------------------------------------------------------ helpers

    def _phone(self, match: re.Match[str]) -> SimPhone:
        phone = self.sim.phones.get(match.group(1))
        if phone is None:
            raise HTTPError(404, f"no phone {match.group(1)} on this sim")
        return phone

    def _phone_json(self, phone: SimPhone) -> dict[str, Any]:
        devices = [
            {
                "jid": str(d.jid),
                "lid": str(d.lid),
                "connected": d.connection is not None and not d.connection.closed,
                "device": d.jid.device,
                "platform": d.platform,
                "last_seen": d.last_seen or None,
            }
            for d in phone.companions.values()
            if not d.unlinked
        ]
        return {
            "number": phone.number,
            "name": phone.name,
            "jid": str(phone.jid),
            "lid": str(phone.lid),
            "online": phone.online,
            "last_online": phone.last_online,
            "business": phone.business,
            "companions": devices,
            "received": len(phone.received),
        }

    # ------------------------------------------------------------------ routes

    async def _info(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        return 200, {
            "url": self.sim.url,
            "root_public_key": self.sim.root_public_key.hex(),
            "root_serial": self.sim.ca.root_serial,
            "clock": self.sim.clock(),
            "clock_offset": self.sim.clock_offset,
        }

    async def _list_phones(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        return 200, {"phones": [self._phone_json(p) for p in self.sim.phones.values()]}

    async def _add_phone(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        number = _text(body, "number", limit=20).lstrip("+")
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or len(name) > 100):
            raise HTTPError(400, "'name' must be a string of at most 100 characters")
        if not number.isdigit() or len(number) < 7:
            raise HTTPError(400, "'number' must be a phone number in international form")
        if number in self.sim.phones:
            raise HTTPError(409, f"{number} already has an account on this sim")
        business = body.get("business", False)
        if not isinstance(business, bool):
            raise HTTPError(400, "'business' must be true or false")
        return 201, self._phone_json(self.sim.add_phone(number, name or None, business=business))

    async def _get_phone(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        return 200, self._phone_json(self._phone(match))

    async def _scan(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        qr = _text(body, "qr")
        try:
            device = await phone.scan_qr(qr)
        except PairingError as exc:  # the string is not a QR code
            raise HTTPError(400, f"not a pairing QR code: {exc}") from None
        except (ConnectionError, ConnectionClosed) as exc:  # the companion went away
            raise HTTPError(
                409, f"the companion that showed this QR code is gone ({exc}): show a new one"
            ) from None
        return 200, {"jid": str(device.jid), "lid": str(device.lid)}

    async def _code(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        device = await phone.link_with_code(_text(body, "code", limit=16))
        return 200, {"jid": str(device.jid), "lid": str(device.lid)}

    async def _unlink(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        value = body.get("device")
        if isinstance(value, int) and not isinstance(value, bool):
            target: str | JID = JID(phone.number, DEFAULT_USER_SERVER, value)
        elif isinstance(value, str) and value:
            try:
                target = JID.parse(value)
            except InvalidJID:
                raise HTTPError(400, "'device' is not a device JID") from None
        else:
            raise HTTPError(400, "'device' must be a device JID or a device number")
        await phone.unlink(target)
        return 200, self._phone_json(phone)

    async def _offline(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        phone.go_offline()
        return 200, self._phone_json(phone)

    async def _online(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        phone.go_online()
        return 200, self._phone_json(phone)

    async def _send(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        to = self._chat_target(phone, _text(body, "to", limit=200))
        text = _text(body, "text", limit=65536)
        quoted_id = body.get("quoted")
        quoted = self._received(phone, quoted_id) if quoted_id is not None else None
        mentions = body.get("mentions", [])
        if not isinstance(mentions, list) or not all(isinstance(m, str) for m in mentions):
            raise HTTPError(400, "'mentions' must be a list of phone numbers or JIDs")
        mentioned = [str(_user_jid(m).to_non_ad()) for m in mentions[:256]]
        message_id = await phone.send_text(to, text, reply_to=quoted, mentions=mentioned)
        return 200, {"id": message_id, "to": str(to)}

    def _received(self, phone: SimPhone, message_id: object) -> SimMessage:
        """The message ``phone`` received with that id (404 when it has none)."""
        if not isinstance(message_id, str) or not message_id:
            raise HTTPError(400, "a message 'id' must be a non-empty string")
        for message in reversed(phone.received):
            if message.id == message_id:
                return message
        raise HTTPError(404, f"{phone.number} received no message {message_id[:64]!r}")

    async def _send_media(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        to = self._chat_target(phone, _text(body, "to", limit=200))
        kind = body.get("kind", "document")
        if kind not in _MEDIA_KINDS:
            raise HTTPError(400, f"'kind' must be one of {', '.join(_MEDIA_KINDS)}")
        data = body["data"]
        if not data:
            raise HTTPError(400, "the body must be the file to send")
        seconds = body.get("seconds")
        if seconds is not None and not seconds.isdigit():
            raise HTTPError(400, "'seconds' must be a whole number")
        file_name = body.get("file_name")
        if file_name is not None and len(file_name) > 255:
            raise HTTPError(400, "'file_name' is longer than 255 characters")
        try:
            message_id = await phone.send_media(
                to,
                kind,
                data,
                mimetype=body.get("mimetype") or None,
                caption=body.get("caption") or None,
                file_name=file_name or None,
                ptt=body.get("ptt") in ("1", "true"),
                seconds=int(seconds) if seconds is not None else None,
            )
        except MediaError as exc:
            raise HTTPError(409, f"the media host refused the upload: {exc}") from None
        return 200, {"id": message_id, "to": str(to), "kind": kind, "size": len(data)}

    async def _media(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        message_id = match.group(2)
        message = next((m for m in reversed(phone.endpoint.history) if m.id == message_id), None)
        if message is None:
            raise HTTPError(404, f"{phone.number} has no message {message_id!r}")
        info = media_info(message.message)
        if info is None:
            raise HTTPError(404, f"message {message_id!r} has no media")
        got = phone.received_media.get(message_id)
        if isinstance(got, MediaError):
            raise HTTPError(409, f"the phone could not fetch this media: {got}")
        data = got if got is not None else phone.endpoint.media.plaintext(message_id)
        if data is None:
            raise HTTPError(404, f"{phone.number} kept no media of {message_id!r}")
        return 200, _Bytes(data, info.mimetype or "application/octet-stream")

    def _chat_target(self, phone: SimPhone, value: str) -> JID:
        """A chat ``phone`` may write to: a user on the sim or a group it is in."""
        to = _user_jid(value).to_non_ad()
        if to.server == GROUP_SERVER:
            group = self.sim.groups.get(to.user)
            if group is None:
                raise HTTPError(404, f"no group {to}")
            if phone.number not in group.participants:
                raise HTTPError(409, f"{phone.number} is not a member of {to}")
        elif self.sim.account_of(to) is None:
            raise HTTPError(404, f"{to} has no account on this sim")
        return to

    def _sent(self, phone: SimPhone, message_id: object) -> str:
        if not isinstance(message_id, str) or not message_id:
            raise HTTPError(400, "a message 'id' must be a non-empty string")
        if message_id not in phone.endpoint.sent:
            raise HTTPError(404, f"{phone.number} sent no message {message_id[:64]!r}")
        return message_id

    async def _edit(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        target = self._sent(phone, body.get("id"))
        text = _text(body, "text", limit=65536)
        message_id = await phone.edit(target, text)
        return 200, {"id": message_id, "target": target, "text": text}

    async def _revoke(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        target = self._sent(phone, body.get("id"))
        message_id = await phone.revoke(target)
        return 200, {"id": message_id, "target": target}

    async def _poll(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        to = self._chat_target(phone, _text(body, "to", limit=200))
        name = _text(body, "name", limit=255)
        options = body.get("options")
        if (
            not isinstance(options, list)
            or not 2 <= len(options) <= 12
            or not all(isinstance(o, str) and o for o in options)
            or len(set(options)) != len(options)
        ):
            raise HTTPError(400, "'options' must be 2 to 12 different non-empty strings")
        selectable = body.get("selectable", 1)
        if isinstance(selectable, bool) or not isinstance(selectable, int):
            raise HTTPError(400, "'selectable' must be an integer")
        if not 0 <= selectable <= len(options):
            raise HTTPError(400, "'selectable' must be between 0 and the number of options")
        message_id = await phone.send_poll(to, name, options, selectable)
        return 200, {"id": message_id, "to": str(to)}

    async def _vote(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        message_id = body.get("id")
        poll = next(
            (m for m in reversed(phone.endpoint.history) if m.id == message_id),
            None,
        )
        if not isinstance(message_id, str) or poll is None:
            raise HTTPError(404, f"{phone.number} has seen no poll {str(message_id)[:64]!r}")
        options = body.get("options", [])
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise HTTPError(400, "'options' must be a list of option names")
        vote_id = await phone.vote(poll, options)
        return 200, {"id": vote_id, "poll": message_id, "options": options}

    async def _chat_action(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        chat = _user_jid(_text(body, "chat", limit=200)).to_non_ad()
        action = body.get("action")
        if action not in _CHAT_ACTIONS:
            raise HTTPError(400, f"'action' must be one of {', '.join(_CHAT_ACTIONS)}")
        until = body.get("until_ms", -1)
        if isinstance(until, bool) or not isinstance(until, int):
            raise HTTPError(400, "'until_ms' must be an integer (-1: for ever)")
        runs: dict[str, Callable[[], Awaitable[int]]] = {
            "archive": lambda: phone.archive_chat(chat, True),
            "unarchive": lambda: phone.archive_chat(chat, False),
            "pin": lambda: phone.pin_chat(chat, True),
            "unpin": lambda: phone.pin_chat(chat, False),
            "mute": lambda: phone.mute_chat(chat, until),
            "unmute": lambda: phone.mute_chat(chat, None),
            "mark-read": lambda: phone.mark_chat_read(chat, True),
            "mark-unread": lambda: phone.mark_chat_read(chat, False),
            "clear": lambda: phone.clear_chat(chat),
            "delete": lambda: phone.delete_chat(chat),
        }
        version = await runs[action]()
        return 200, {"chat": str(chat), "action": action, "version": version}

    async def _history(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        after = self._int_param(query, "after", 0)
        history = phone.endpoint.history
        return 200, {
            "messages": [message_json(i, m, phone) for i, m in enumerate(history) if i >= after],
            "next": len(history),
        }

    async def _list_groups(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        return 200, {"groups": [group_json(g) for g in self.sim.groups.values()]}

    async def _react(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        target = self._received(phone, body.get("id"))
        emoji = body.get("emoji")
        if not isinstance(emoji, str) or len(emoji) > 32:
            raise HTTPError(400, "'emoji' must be a string (empty: take the reaction back)")
        message_id = await phone.react(target, emoji)
        return 200, {"id": message_id, "target": target.id, "emoji": emoji}

    async def _read_receipt(
        self, match: re.Match[str], query: Query, body: Body
    ) -> tuple[int, Any]:
        phone = self._phone(match)
        target = self._received(phone, body.get("id"))
        await phone.read(target)
        return 200, {"read": target.id}

    async def _typing(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        to = _user_jid(_text(body, "to", limit=200))
        state = body.get("state", "composing")
        if state not in _CHAT_STATES:
            raise HTTPError(400, f"'state' must be one of {', '.join(_CHAT_STATES)}")
        await phone.send_chatstate(to.to_non_ad(), state)
        return 200, {"to": str(to.to_non_ad()), "state": state}

    def _group(self, phone: SimPhone, match: re.Match[str]) -> Any:
        group = self.sim.groups.get(match.group(2))
        if group is None:
            raise HTTPError(404, f"no group {match.group(2)}@g.us")
        if phone.number not in group.participants:
            raise HTTPError(409, f"{phone.number} is not a member of {group.jid}")
        return group

    async def _members(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        group = self._group(phone, match)
        action = match.group(3)
        members = body.get("members")
        if (
            not isinstance(members, list)
            or not members
            or not all(isinstance(m, str) for m in members)
        ):
            raise HTTPError(400, "'members' must be a non-empty list of phone numbers or JIDs")
        numbers = [_user_jid(m).user for m in members[:256]]
        results = await self.sim.group_service.change_participants(group, phone, action, numbers)
        return 200, {
            "group": str(group.jid),
            "results": {f"{n}@{DEFAULT_USER_SERVER}": code for n, code in results},
        }

    async def _subject(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        group = self._group(phone, match)
        subject = _text(body, "subject", limit=100)
        await self.sim.group_service.set_subject(group, phone, subject)
        return 200, {"group": str(group.jid), "subject": group.subject}

    async def _create_group(
        self, match: re.Match[str], query: Query, body: Body
    ) -> tuple[int, Any]:
        phone = self._phone(match)
        subject = _text(body, "subject", limit=100)
        members = body.get("members", [])
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise HTTPError(400, "'members' must be a list of phone numbers or JIDs")
        jids = [_user_jid(m) for m in members]
        unknown = [str(j) for j in jids if self.sim.account_of(j) is None]
        if unknown:
            raise HTTPError(404, f"not on this sim: {', '.join(unknown[:5])}")
        group = await phone.create_group(subject, jids)
        return 201, {
            "jid": str(group.jid),
            "subject": group.subject,
            "participants": [f"{n}@{DEFAULT_USER_SERVER}" for n in group.participants],
        }

    async def _messages(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        phone = self._phone(match)
        after = self._int_param(query, "after", 0)
        received = phone.received
        return 200, {
            "messages": [message_json(i, m, phone) for i, m in enumerate(received) if i >= after],
            "next": len(received),
        }

    async def _next_message(
        self, match: re.Match[str], query: Query, body: Body
    ) -> tuple[int, Any]:
        phone = self._phone(match)
        timeout = self._float_param(query, "timeout", 10.0)
        cursor = self._cursors.get(phone.number, 0)
        try:
            await phone.endpoint.wait_received(cursor, timeout)
        except TimeoutError:
            raise HTTPError(408, f"no message for {phone.number} within {timeout:g} s") from None
        self._cursors[phone.number] = cursor + 1
        return 200, message_json(cursor, phone.received[cursor], phone)

    async def _set_clock(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        offset = _number(body.get("offset"), "'offset'")
        if abs(offset) > 10 * 365 * 86400:
            raise HTTPError(400, "'offset' is more than ten years")
        self.sim.clock_offset = offset
        return 200, {"clock": self.sim.clock(), "clock_offset": offset}

    # ------------------------------------------------------------------ faults

    async def _list_faults(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        faults = self.sim.faults
        fired = [{"fault": f, "tag": t, "device": d} for f, t, d in faults.log[-MAX_LOG:]]
        return 200, {"rules": [r.describe() for r in faults.rules], "fired": fired}

    async def _add_fault(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        tags = body.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise HTTPError(400, "'tags' must be a list of stanza tags")
        count = body.get("count")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise HTTPError(400, "'count' must be an integer")
        xmlns = body.get("xmlns")
        if xmlns is not None and not isinstance(xmlns, str):
            raise HTTPError(400, "'xmlns' must be a string")
        device = body.get("device")
        try:
            rule = FaultRule(
                kind=_text(body, "kind", limit=16),  # type: ignore[arg-type]
                direction=body.get("direction", "out"),
                probability=_number(body.get("probability", 1.0), "'probability'"),
                tags=frozenset(tags),
                xmlns=xmlns,
                device=_device_jid(device) if device is not None else None,
                count=count,
                seconds=_number(body.get("seconds", 0.0), "'seconds'"),
                code=_code(body.get("code", 515), "'code'"),
            )
        except ValueError as exc:
            raise HTTPError(400, str(exc)) from None
        return 201, self.sim.faults.add(rule).describe()

    async def _clear_faults(
        self, match: re.Match[str], query: Query, body: Body
    ) -> tuple[int, Any]:
        self.sim.faults.clear()
        return 200, {"rules": []}

    def _connected_device(self, body: Body) -> SimDevice:
        value = body.get("device")
        if not isinstance(value, str) or not value:
            raise HTTPError(400, "'device' must be a device JID")
        device = self.sim.device_of(_device_jid(value))
        if device is None or device.endpoint is not None:
            raise HTTPError(404, f"no linked companion {value[:64]!r}")
        return device

    async def _disconnect(self, match: re.Match[str], query: Query, body: Body) -> tuple[int, Any]:
        device = self._connected_device(body)
        if not await self.sim.faults.disconnect(device):
            raise HTTPError(409, f"{device.jid} is not connected")
        return 200, {"device": str(device.jid), "disconnected": True}

    async def _stream_error(
        self, match: re.Match[str], query: Query, body: Body
    ) -> tuple[int, Any]:
        device = self._connected_device(body)
        code = _code(body.get("code", 515), "'code'")
        if not await self.sim.faults.stream_error(device, code):
            raise HTTPError(409, f"{device.jid} is not connected")
        return 200, {"device": str(device.jid), "code": code}

    async def _refuse_logins(
        self, match: re.Match[str], query: Query, body: Body
    ) -> tuple[int, Any]:
        count = body.get("count")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise HTTPError(400, "'count' must be an integer")
        seconds = body.get("seconds")
        if seconds is not None:
            seconds = _number(seconds, "'seconds'")
        reason = _code(body.get("reason", 503), "'reason'")
        self.sim.faults.refuse_logins(count, seconds, reason=reason)
        return 200, {"count": count, "seconds": seconds, "reason": reason}

    @staticmethod
    def _int_param(query: Query, name: str, default: int) -> int:
        values = query.get(name)
        if not values:
            return default
        if not values[0].isdigit():
            raise HTTPError(400, f"{name!r} must be a non-negative integer")
        return int(values[0])

    @staticmethod
    def _float_param(query: Query, name: str, default: float) -> float:
        values = query.get(name)
        if not values:
            return default
        try:
            value = float(values[0])
        except ValueError:
            raise HTTPError(400, f"{name!r} must be a number of seconds") from None
        if not 0 <= value <= MAX_WAIT:
            raise HTTPError(400, f"{name!r} must be between 0 and {MAX_WAIT:g} seconds")
        return value
