"""``make_wa_socket``: the client connection, pairing and login, as Baileys users know it.

One ``WASocket`` runs one logical session: it connects, shows QR codes (or completes a
pairing code), and after WhatsApp's 515 "restart required" reconnects by itself as the
newly linked device, like whatsmeow does. Every change of state is a
``connection.update`` event; credential changes are ``creds.update`` events (hand them to
``save_creds``). When the connection ends for good the last ``connection.update`` has
``connection="close"`` and ``last_disconnect.status_code`` (compare with
``DisconnectReason``); reconnecting is then the caller's choice, or ``run_forever``'s.

Protocol facts: QR refs and their lifetimes (whatsmeow ``pair.go``, ``qrchan.go``), the
pair-success checks (``wamd.pairing``), the login sequence — prekey count, upload when
fewer than ``MIN_PREKEYS`` are left (812 the first time, 50 later), ``passive`` iq with
``<active/>``, presence — (whatsmeow ``connectionevents.go``, ``prekeys.go``), and the
stream errors and connect failures mapped to ``DisconnectReason``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wamd.binary import JID, Node
from wamd.binary.jid import DEFAULT_USER_SERVER, HIDDEN_USER_SERVER, InvalidJID
from wamd.client.content import AnyMessageContent
from wamd.client.devices import DeviceDirectory
from wamd.client.groups import GroupDirectory
from wamd.client.ordered import KeyedWorkers
from wamd.client.receive import Receiver, chat_key
from wamd.client.send import Sender
from wamd.defaults import DEFAULT_BROWSER, WA_URL, WA_VERSION, WHATSAPP_ROOT_PUBLIC_KEY
from wamd.errors import (
    ConnectionClosed,
    DisconnectReason,
    HandshakeError,
    PairingError,
    RequestError,
    WamdError,
)
from wamd.events import ConnectionUpdate, EventEmitter, LastDisconnect
from wamd.messaging.stanzas import OwnIds
from wamd.messaging.types import GroupMetadata, MessageKey, WAMessage
from wamd.noise.payload import login_payload, registration_payload
from wamd.pairing import (
    PAIR_CLIENT_CHROME,
    CodePairingCompanion,
    make_qr_string,
    verify_pair_success,
)
from wamd.proto import e2e_pb2
from wamd.signal import SignalRepository
from wamd.signal.prekeys import upload_children
from wamd.store.auth import AuthState
from wamd.store.creds import Me
from wamd.transport import NodeConnection, connect_client

__all__ = ["INITIAL_PREKEYS", "MIN_PREKEYS", "SocketOptions", "WASocket", "make_wa_socket"]

log = logging.getLogger(__name__)

INITIAL_PREKEYS = 812  # first upload (whatsmeow and Baileys)
REFILL_PREKEYS = 50  # later uploads (whatsmeow WantedPreKeyCount)
MIN_PREKEYS = 5  # refill when the server has fewer (both)
SERVER = DEFAULT_USER_SERVER

# connect-failure reasons (<failure reason=...>) and stream error codes -> DisconnectReason
_FAILURES = {
    401: DisconnectReason.LOGGED_OUT,
    403: DisconnectReason.FORBIDDEN,
    405: DisconnectReason.CLIENT_OUTDATED,
    409: DisconnectReason.CONNECTION_REPLACED,
    411: DisconnectReason.MULTIDEVICE_MISMATCH,
    500: DisconnectReason.BAD_SESSION,
    503: DisconnectReason.UNAVAILABLE_SERVICE,
    515: DisconnectReason.RESTART_REQUIRED,
}


@dataclass
class SocketOptions:
    url: str = WA_URL
    server_root_key: bytes = WHATSAPP_ROOT_PUBLIC_KEY
    server_root_serial: int = 0
    print_qr_in_terminal: bool = False
    browser: tuple[str, str, str] = DEFAULT_BROWSER
    version: tuple[int, int, int] = WA_VERSION
    logger: logging.Logger | None = None
    connect_timeout: float = 20.0
    keepalive_interval: tuple[float, float] | float = (20.0, 30.0)
    keepalive_timeout: float = 10.0
    default_query_timeout: float = 60.0
    mark_online_on_connect: bool = True
    qr_timeout: tuple[float, float] = (60.0, 20.0)  # first ref, each later ref
    origin: str = "https://web.whatsapp.com"
    qr_output: Callable[[str], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class WASocket:
    def __init__(self, auth: AuthState, options: SocketOptions) -> None:
        self.auth = auth
        self.options = options
        self.log = options.logger or log
        self.ev = EventEmitter()
        self.conn: NodeConnection | None = None
        self.signal = SignalRepository(
            auth.keys,
            auth.creds.signed_identity_key,
            auth.creds.registration_id,
            auth.creds.signed_pre_key,
        )
        self._task: asyncio.Task[None] | None = None
        self._final: DisconnectReason | int | None = None
        self._close_error: BaseException | None = None
        self._qr_task: asyncio.Task[None] | None = None
        self._new_login = False
        self._ended = False
        self._opened = asyncio.Event()  # this connection reached "open"
        self._code: tuple[CodePairingCompanion, str, bytes] | None = None  # pairing in progress
        self._registered = asyncio.Event()  # the server sent pair-device: pairing can start
        self._background: set[asyncio.Task[Any]] = set()
        self._workers = KeyedWorkers()  # incoming stanzas, in order per chat
        self._prekey_lock = asyncio.Lock()
        self.marked_online = False  # delivery receipts are "inactive" until we are online
        self.devices = DeviceDirectory(auth.keys, self.query, self._new_sid)
        self.groups = GroupDirectory(self)
        self.sender = Sender(self)
        self.receiver = Receiver(self)

    # ------------------------------------------------------------------ lifecycle

    @property
    def user(self) -> Me | None:
        return self.auth.creds.me

    async def connect(self) -> None:
        """Start connecting in the background; follow ``connection.update`` events."""
        if self._task is None or self._task.done():
            self._ended = False
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def __aenter__(self) -> WASocket:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.end()

    async def end(self, error: BaseException | None = None) -> None:
        """Close the connection for good (emits a final ``close``)."""
        self._ended = True
        self._close_error = error
        if self.conn is not None:
            await self.conn.close(DisconnectReason.CONNECTION_CLOSED, "ended by the application")
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.receiver.cancel_pending()  # unconfirmed messages come again next time

    async def wait_closed(self) -> LastDisconnect | None:
        """Wait until the socket has closed for good; returns the final reason."""
        if self._task is not None:
            await asyncio.shield(self._task)
        return self._last

    _last: LastDisconnect | None = None

    async def logout(self) -> None:
        """Remove this device from the account and forget the credentials' login."""
        me = self.auth.creds.me
        if self.conn is not None and me is not None:
            with contextlib.suppress(WamdError):
                await self.query(
                    Node(
                        "iq",
                        {"to": SERVER, "type": "set", "xmlns": "md"},
                        [
                            Node(
                                "remove-companion-device",
                                {"jid": me.id, "reason": "user_initiated"},
                            )
                        ],
                    )
                )
        self._final = DisconnectReason.LOGGED_OUT
        self.auth.creds.me = None
        self.auth.creds.account = None
        self.auth.creds.registered = False
        self.ev.emit("creds.update", {"me": None, "account": None, "registered": False})
        await self.end()

    async def query(self, node: Node, timeout: float | None = None) -> Node:
        return await self.live_conn().query(node, timeout or self.options.default_query_timeout)

    def live_conn(self) -> NodeConnection:
        """The open connection; ``ConnectionClosed`` when there is none."""
        if self.conn is None or self.conn.closed:
            raise ConnectionClosed(DisconnectReason.CONNECTION_CLOSED, "not connected")
        return self.conn

    def own_ids(self) -> OwnIds | None:
        """Our device's phone-number and lid JIDs, once paired."""
        me = self.auth.creds.me
        if me is None:
            return None
        return OwnIds(JID.parse(me.id), JID.parse(me.lid) if me.lid else None)

    # ------------------------------------------------------------------ the connection loop

    def _payload(self) -> bytes:
        creds = self.auth.creds
        opts = self.options
        if creds.me is not None:
            jid = JID.parse(creds.me.id)
            return login_payload(
                jid.user, jid.device, version=opts.version, push_name=creds.me.name
            )
        spk = creds.signed_pre_key
        return registration_payload(
            creds.registration_id,
            creds.signed_identity_key.public,
            spk.key_id,
            spk.key_pair.public,
            spk.signature,
            version=opts.version,
            browser=opts.browser,
        )

    async def _run(self) -> None:
        while True:
            self._final = None
            if not self._ended:
                self._close_error = None  # each connection ends for its own reason
            self._opened = asyncio.Event()
            self.ev.emit("connection.update", ConnectionUpdate(connection="connecting"))
            try:
                self.conn = await connect_client(
                    self.options.url,
                    noise_key=self.auth.creds.noise_key,
                    client_payload=self._payload(),
                    trusted_root=self.options.server_root_key,
                    root_serial=self.options.server_root_serial,
                    connect_timeout=self.options.connect_timeout,
                    origin=self.options.origin,
                )
            except (ConnectionClosed, HandshakeError) as exc:
                code = (
                    exc.status_code
                    if isinstance(exc, ConnectionClosed)
                    else DisconnectReason.BAD_SESSION
                )
                self._emit_close(exc, int(code))
                return
            conn = self.conn
            conn.start(self._on_node)
            closed = await conn.wait_closed()
            self._stop_qr()
            code = int(self._final if self._final is not None else closed.status_code)
            error: BaseException = self._close_error or ConnectionClosed(code, str(closed))
            if code == DisconnectReason.RESTART_REQUIRED and not self._ended:
                self._emit_close(error, code, final=False)
                continue  # whatsmeow reconnects by itself after 515
            self._emit_close(error, code)
            return

    def _emit_close(self, error: BaseException | None, code: int, final: bool = True) -> None:
        self._last = LastDisconnect(error=error, status_code=code)
        self.ev.emit(
            "connection.update", ConnectionUpdate(connection="close", last_disconnect=self._last)
        )

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _close_with(
        self, reason: DisconnectReason | int, message: str, error: BaseException | None = None
    ) -> None:
        self._final = reason
        if error is not None:
            self._close_error = error
        if self.conn is not None:
            await self.conn.close(reason, message)

    # ------------------------------------------------------------------ messaging API

    async def send_message(
        self,
        jid: JID | str,
        content: AnyMessageContent | e2e_pb2.Message,
        *,
        quoted: WAMessage | None = None,
        mentions: Sequence[str] = (),
        message_id: str | None = None,
    ) -> WAMessage:
        """Send ``content`` (``{"text": ...}``, ``{"react": ...}``, ``{"edit": key, "text": ...}``,
        ``{"delete": key}`` or a ``Message``) to a user or group; returns the sent message."""
        return await self.sender.send_message(
            jid, content, quoted=quoted, mentions=mentions, message_id=message_id
        )

    async def phone_number_jid(self, jid: str) -> str:
        """The phone-number form of a user chat whose lid mapping is known, else ``jid``.

        A customer's chat may arrive under their lid (``...@lid``) and be answered under
        their number: key per-chat state by this to keep the two together.
        """
        try:
            parsed = JID.parse(jid)
        except InvalidJID:
            return jid
        if parsed.server != HIDDEN_USER_SERVER:
            return jid
        pn = await self.devices.pn_for(parsed.to_non_ad())
        return str(pn) if pn is not None else jid

    def sent_here(self, message_id: str) -> bool:
        """Whether this socket sent the message (tells our sends from other devices')."""
        return self.sender.sent_here(message_id)

    async def read_messages(self, keys: Sequence[MessageKey]) -> None:
        await self.sender.read_messages(keys)

    async def send_receipt(
        self, jid: str, participant: str | None, ids: Sequence[str], kind: str = "read"
    ) -> None:
        await self.sender.send_receipt(jid, participant, ids, kind)

    async def send_presence_update(self, state: str, jid: str | None = None) -> None:
        await self.sender.send_presence_update(state, jid)

    async def presence_subscribe(self, jid: str) -> None:
        await self.sender.presence_subscribe(jid)

    async def group_create(self, subject: str, participants: Sequence[str]) -> GroupMetadata:
        return await self.groups.create(subject, participants)

    async def group_metadata(self, jid: str) -> GroupMetadata:
        return await self.groups.metadata(jid)

    async def group_participants_update(
        self, jid: str, participants: Sequence[str], action: str
    ) -> list[tuple[str, int]]:
        return await self.groups.participants_update(jid, participants, action)

    async def group_update_subject(self, jid: str, subject: str) -> None:
        await self.groups.update_subject(jid, subject)

    async def idle(self) -> None:
        """Wait until every stanza received so far has been handled."""
        await self._workers.join()
        await self.ev.drain()
        await self.receiver.settle_pending()

    def _new_sid(self) -> str:
        return self.conn.new_id() if self.conn is not None else os.urandom(6).hex()

    async def _offline_backlog_done(self) -> None:
        opened = self._opened
        await opened.wait()
        await self._workers.join()
        if self._opened is opened:
            self.ev.emit("connection.update", ConnectionUpdate(received_pending_notifications=True))

    # ------------------------------------------------------------------ incoming nodes

    async def _on_node(self, node: Node) -> None:
        tag = node.tag
        if tag == "iq":
            await self._on_iq(node)
        elif tag == "success":
            self._spawn(self._on_success(node))
        elif tag == "failure":
            reason = node.attr_int("reason", 0) or 0
            mapped = _FAILURES.get(reason, reason)
            message = f"connect failure {reason}"
            if reason == 405:
                message = (
                    "client outdated (405): WhatsApp refused this web version "
                    f"{'.'.join(map(str, self.options.version))}; update wamd, or pass "
                    "version=await wamd.client.fetch_latest_version()"
                )
            await self._close_with(mapped, message, ConnectionClosed(mapped, message))
        elif tag == "stream:error":
            await self._on_stream_error(node)
        elif tag == "message":
            self._workers.submit(chat_key(node), lambda: self.receiver.on_message(node))
        elif tag == "receipt":
            self._workers.submit(" receipts", lambda: self.receiver.on_receipt(node))
        elif tag == "presence":
            await self.receiver.on_presence(node)
        elif tag == "chatstate":
            await self.receiver.on_chatstate(node)
        elif tag == "call":
            self._workers.submit(" calls", lambda: self.receiver.on_call(node))
        elif tag == "ib":
            if node.get_child("offline") is not None:
                # the backlog is delivered: say so once it is handled and the socket is open
                self._spawn(self._offline_backlog_done())
        elif tag == "notification":
            await self._on_notification(node)
        elif tag == "ack":
            pass  # acks of stanzas we did not wait for (receipts, retries)
        elif tag == "xmlstreamend":
            await self._close_with(DisconnectReason.CONNECTION_CLOSED, "server ended the stream")
        else:
            self.log.debug("unhandled <%s>", tag)

    async def _on_stream_error(self, node: Node) -> None:
        code = node.attr_int("code", 0) or 0
        conflict = node.get_child("conflict")
        kind = conflict.attrs.get("type") if conflict is not None else None
        if code == 515:
            reason: DisconnectReason | int = DisconnectReason.RESTART_REQUIRED
        elif kind == "device_removed" or code == 401:
            reason = DisconnectReason.LOGGED_OUT
        elif kind == "replaced":
            reason = DisconnectReason.CONNECTION_REPLACED
        else:
            reason = _FAILURES.get(code, DisconnectReason.BAD_SESSION)
        text = f"stream error {code or ''} {kind or ''}".strip()
        await self._close_with(reason, text, ConnectionClosed(reason, text))

    async def _on_iq(self, node: Node) -> None:
        children = node.get_children()
        if node.attrs.get("from") != SERVER or len(children) != 1:
            return
        child = children[0]
        conn = self.conn
        if conn is None:
            return
        if child.tag == "pair-device":
            self._registered.set()
            # acknowledge, then show one QR per ref (whatsmeow pair.go handlePairDevice)
            await conn.send(
                Node("iq", {"to": SERVER, "type": "result", "id": node.attrs.get("id", "")})
            )
            refs = [ref.content_bytes() or b"" for ref in child.get_children("ref")]
            self._stop_qr()
            self._qr_task = asyncio.get_running_loop().create_task(
                self._show_qrs([r.decode() for r in refs])
            )
        elif child.tag == "pair-success":
            await self._on_pair_success(node, child)
        elif node.attrs.get("type") == "get" and node.attrs.get("xmlns") == "urn:xmpp:ping":
            await conn.send(
                Node("iq", {"to": SERVER, "type": "result", "id": node.attrs.get("id", "")})
            )

    # ------------------------------------------------------------------ QR pairing

    async def _show_qrs(self, refs: list[str]) -> None:
        creds = self.auth.creds
        first, later = self.options.qr_timeout
        for n, ref in enumerate(refs):
            qr = make_qr_string(
                ref,
                creds.noise_key.public,
                creds.signed_identity_key.public,
                creds.adv_secret_key,
                PAIR_CLIENT_CHROME,
            )
            if self.options.print_qr_in_terminal:
                self._print_qr(qr)
            self.ev.emit("connection.update", ConnectionUpdate(qr=qr))
            await asyncio.sleep(first if n == 0 else later)
        await self._close_with(
            DisconnectReason.TIMED_OUT,
            "QR refs ended",
            ConnectionClosed(DisconnectReason.TIMED_OUT, "QR refs ended"),
        )

    def _print_qr(self, qr: str) -> None:
        output = self.options.qr_output or print
        try:
            import io

            import qrcode

            code = qrcode.QRCode(border=1)
            code.add_data(qr)
            buffer = io.StringIO()
            code.print_ascii(out=buffer, invert=True)
            output(buffer.getvalue())
        except Exception:  # a terminal QR is a convenience: never fail the pairing on it
            self.log.exception("could not render the QR code")

    def _stop_qr(self) -> None:
        if self._qr_task is not None:
            self._qr_task.cancel()
            self._qr_task = None

    async def _on_pair_success(self, iq: Node, node: Node) -> None:
        self._stop_qr()
        conn = self.conn
        assert conn is not None
        iq_id = iq.attrs.get("id", "")
        creds = self.auth.creds
        identity_node = node.get_child("device-identity")
        device = node.get_child("device")
        try:
            if identity_node is None or device is None or "jid" not in device.attrs:
                raise PairingError("pair-success lacks device-identity or device", code=500)
            result = verify_pair_success(
                identity_node.content_bytes() or b"",
                creds.adv_secret_key,
                creds.signed_identity_key,
            )
        except PairingError as exc:
            self.log.warning("refusing pair-success: %s", exc)
            await conn.send(
                Node(
                    "iq",
                    {"to": SERVER, "type": "error", "id": iq_id},
                    [Node("error", {"code": str(exc.code), "text": exc.text})],
                )
            )
            await self._close_with(DisconnectReason.BAD_SESSION, f"pairing refused: {exc}", exc)
            return
        platform = node.get_child("platform")
        lid = device.attrs.get("lid")
        changes: dict[str, Any] = {
            "me": Me(device.attrs["jid"], lid, None),
            "account": result.account,
            "platform": platform.attrs.get("name") if platform is not None else None,
            "registered": True,
        }
        if lid:
            primary = str(JID.parse(lid).with_device(0))
            changes["signal_identities"] = [
                *creds.signal_identities,
                {"identifier": primary, "identifierKey": b"\x05" + result.account_signature_key},
            ]
        creds.update(changes)
        self._new_login = True
        self.ev.emit("creds.update", changes)
        await conn.send(
            Node(
                "iq",
                {"to": SERVER, "type": "result", "id": iq_id},
                [
                    Node(
                        "pair-device-sign",
                        {},
                        [
                            Node(
                                "device-identity",
                                {"key-index": str(result.key_index)},
                                result.reply_identity,
                            )
                        ],
                    )
                ],
            )
        )

    # ------------------------------------------------------------------ pairing code

    async def request_pairing_code(
        self, phone_number: str, show_push_notification: bool = True
    ) -> str:
        """Ask WhatsApp for a code to type on the phone; returns the 8 characters.

        The socket must be connecting as a new device (a fresh auth state). The phone
        number is the account's, in international form (digits; '+', spaces and dashes
        are ignored). Pairing then completes like QR pairing (``connection.update``).
        """
        digits = "".join(ch for ch in phone_number if ch.isdigit())
        if len(digits) <= 6:
            raise ValueError("phone number is too short: give it in international form")
        if digits.startswith("0"):
            raise ValueError(
                "phone number must be international (country code first, no leading 0)"
            )
        if self.auth.creds.me is not None:
            raise PairingError("this device is already paired")
        await asyncio.wait_for(self._registered.wait(), self.options.connect_timeout)
        companion = CodePairingCompanion.start()
        os_name, browser_name, _ = self.options.browser
        jid = f"{digits}@{SERVER}"
        answer = await self.query(
            Node(
                "iq",
                {"to": SERVER, "type": "set", "xmlns": "md"},
                [
                    Node(
                        "link_code_companion_reg",
                        {
                            "jid": jid,
                            "stage": "companion_hello",
                            "should_show_push_notification": "true"
                            if show_push_notification
                            else "false",
                        },
                        [
                            Node(
                                "link_code_pairing_wrapped_companion_ephemeral_pub",
                                {},
                                companion.wrapped_ephemeral,
                            ),
                            Node(
                                "companion_server_auth_key_pub",
                                {},
                                self.auth.creds.noise_key.public,
                            ),
                            Node("companion_platform_id", {}, PAIR_CLIENT_CHROME),
                            Node("companion_platform_display", {}, f"{browser_name} ({os_name})"),
                            Node("link_code_pairing_nonce", {}, b"\x00"),
                        ],
                    )
                ],
            )
        )
        reg = answer.get_child("link_code_companion_reg")
        ref_node = reg.get_child("link_code_pairing_ref") if reg is not None else None
        ref = ref_node.content_bytes() if ref_node is not None else None
        if not ref:
            raise PairingError("the server did not return a pairing reference")
        self._code = (companion, jid, ref)
        self.auth.creds.pairing_code = companion.code
        self.ev.emit("creds.update", {"pairing_code": companion.code})
        return companion.code

    async def _on_notification(self, node: Node) -> None:
        if node.attrs.get("type") == "link_code_companion_reg":
            await self.receiver.ack(node)  # whatsmeow receipt.go sendAck
            self._spawn(self._finish_code_pairing(node))
        else:
            self._workers.submit(" notifications", lambda: self.receiver.on_notification(node))

    async def _finish_code_pairing(self, node: Node) -> None:
        reg = node.get_child("link_code_companion_reg")
        if reg is None or self._code is None:
            self.log.warning("pairing-code notification without a pending request")
            return
        companion, jid, ref = self._code
        got_ref = reg.get_child("link_code_pairing_ref")
        wrapped = reg.get_child("link_code_pairing_wrapped_primary_ephemeral_pub")
        primary = reg.get_child("primary_identity_pub")
        if got_ref is None or got_ref.content_bytes() != ref or wrapped is None or primary is None:
            self.log.warning("pairing-code notification does not match our request")
            return
        creds = self.auth.creds
        try:
            bundle, adv_secret = companion.finish(
                wrapped.content_bytes() or b"",
                primary.content_bytes() or b"",
                creds.signed_identity_key,
            )
        except PairingError as exc:
            self.log.warning("pairing code failed: %s", exc)
            return
        creds.adv_secret_key = adv_secret  # pair-success is authenticated with this secret
        self.ev.emit("creds.update", {"adv_secret_key": adv_secret})
        with contextlib.suppress(WamdError):
            await self.query(
                Node(
                    "iq",
                    {"to": SERVER, "type": "set", "xmlns": "md"},
                    [
                        Node(
                            "link_code_companion_reg",
                            {"jid": jid, "stage": "companion_finish"},
                            [
                                Node("link_code_pairing_wrapped_key_bundle", {}, bundle),
                                Node(
                                    "companion_identity_public",
                                    {},
                                    creds.signed_identity_key.public,
                                ),
                                Node("link_code_pairing_ref", {}, ref),
                            ],
                        )
                    ],
                )
            )
        self._code = None

    # ------------------------------------------------------------------ login

    async def _on_success(self, node: Node) -> None:
        creds = self.auth.creds
        lid = node.attrs.get("lid")
        if lid and creds.me is not None and creds.me.lid != lid:
            creds.me = Me(creds.me.id, lid, creds.me.name)
            self.ev.emit("creds.update", {"me": creds.me})
        try:
            await self._upkeep_prekeys()
            await self.query(
                Node("iq", {"to": SERVER, "type": "set", "xmlns": "passive"}, [Node("active")])
            )
            if creds.me is not None and creds.me.lid:
                await self.devices.learn(
                    JID.parse(creds.me.id).to_non_ad(), JID.parse(creds.me.lid).to_non_ad()
                )
            if self.options.mark_online_on_connect:
                await self.sender.send_presence_update("available")
        except (WamdError, RequestError) as exc:
            if self.conn is not None and self.conn.closed:
                self.log.debug("connection closed during post-login setup: %s", exc)
                return
            self.log.warning("post-login setup failed: %s", exc)
        if self.conn is not None and not self.conn.closed:
            self.conn.start_keepalive(
                self.options.keepalive_interval, self.options.keepalive_timeout
            )
        self.ev.emit(
            "connection.update", ConnectionUpdate(connection="open", is_new_login=self._new_login)
        )
        self._new_login = False
        self._opened.set()

    async def _upkeep_prekeys(self) -> None:
        async with self._prekey_lock:  # a login and a low-prekey notification may overlap
            await self._upkeep_prekeys_locked()

    async def _upkeep_prekeys_locked(self) -> None:
        answer = await self.query(
            Node("iq", {"to": SERVER, "type": "get", "xmlns": "encrypt"}, [Node("count")])
        )
        count_node = answer.get_child("count")
        server_count = count_node.attr_int("value", 0) if count_node is not None else 0
        if (server_count or 0) >= MIN_PREKEYS:
            return
        creds = self.auth.creds
        wanted = (
            INITIAL_PREKEYS
            if creds.first_unuploaded_pre_key_id <= 1 and not server_count
            else REFILL_PREKEYS
        )
        keys = await self.signal.new_prekeys(creds.next_pre_key_id, wanted)
        children = upload_children(
            creds.registration_id, creds.signed_identity_key.public, keys, creds.signed_pre_key
        )
        await self.query(Node("iq", {"to": SERVER, "type": "set", "xmlns": "encrypt"}, children))
        last = keys[-1][0]
        changes = {"next_pre_key_id": last + 1, "first_unuploaded_pre_key_id": last + 1}
        creds.update(changes)
        self.ev.emit("creds.update", changes)


def make_wa_socket(
    auth: AuthState,
    *,
    url: str = WA_URL,
    server_root_key: bytes = WHATSAPP_ROOT_PUBLIC_KEY,
    server_root_serial: int = 0,
    print_qr_in_terminal: bool = False,
    browser: tuple[str, str, str] = DEFAULT_BROWSER,
    version: tuple[int, int, int] = WA_VERSION,
    logger: logging.Logger | None = None,
    connect_timeout: float = 20.0,
    keepalive_interval: tuple[float, float] | float = (20.0, 30.0),
    keepalive_timeout: float = 10.0,
    default_query_timeout: float = 60.0,
    mark_online_on_connect: bool = True,
    qr_timeout: tuple[float, float] = (60.0, 20.0),
    origin: str = "https://web.whatsapp.com",
    qr_output: Callable[[str], None] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> WASocket:
    """A socket for ``auth`` (from ``use_*_auth_state``); ``await sock.connect()`` to start.

    The options are ``SocketOptions``' fields, spelt out so that a misspelt option is a
    type error (and a ``TypeError`` at run time); the defaults are the same (a test
    compares them).
    """
    options = SocketOptions(
        url=url,
        server_root_key=server_root_key,
        server_root_serial=server_root_serial,
        print_qr_in_terminal=print_qr_in_terminal,
        browser=browser,
        version=version,
        logger=logger,
        connect_timeout=connect_timeout,
        keepalive_interval=keepalive_interval,
        keepalive_timeout=keepalive_timeout,
        default_query_timeout=default_query_timeout,
        mark_online_on_connect=mark_online_on_connect,
        qr_timeout=qr_timeout,
        origin=origin,
        qr_output=qr_output,
        extra=dict(extra or {}),
    )
    return WASocket(auth, options)
