"""``make_wa_socket``: the client connection, its lifecycle and login, as Baileys users know it.

One ``WASocket`` runs one logical session: it connects, shows QR codes (or completes a
pairing code), and after WhatsApp's 515 "restart required" reconnects by itself as the
newly linked device, like whatsmeow does. Every change of state is a
``connection.update`` event; credential changes are ``creds.update`` events (hand them to
``save_creds``). When the connection ends for good the last ``connection.update`` has
``connection="close"`` and ``last_disconnect.status_code`` (compare with
``DisconnectReason``); reconnecting is then the caller's choice, or ``run_forever``'s.

Where things live: the phases and their transitions in ``lifecycle.py``; what every
component shares (auth, events, Signal, the current connection attempt) in ``core.py``;
QR and code pairing in ``pairing.py``; prekey upkeep in ``prekeys.py``; devices, groups,
sending and receiving in their own modules. This module wires them, runs the connection
loop and dispatches incoming stanzas by tag.

Protocol facts: the login sequence — prekey upkeep, ``passive`` iq with ``<active/>``,
presence — (whatsmeow ``connectionevents.go``), a ``<success>`` on a registration
connection is ignored (only pairing happens there), and the stream errors and connect
failures mapped to ``DisconnectReason`` (an unknown or malformed code closes with
``BAD_SESSION``, never leaves the connection up).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from wamd.appstate import COLLECTIONS
from wamd.appstate import actions as appstate_actions
from wamd.binary import JID, Node
from wamd.binary.jid import DEFAULT_USER_SERVER, HIDDEN_USER_SERVER, InvalidJID
from wamd.client.appstate import AppStateSync, media_download
from wamd.client.contacts import check_push_name
from wamd.client.content import AnyMessageContent, context_info
from wamd.client.core import Attempt, ClientCore, Link, NotLoggedIn
from wamd.client.devices import DeviceDirectory
from wamd.client.devices import __name__ as devices_module
from wamd.client.groups import GroupDirectory
from wamd.client.lifecycle import Lifecycle, Phase
from wamd.client.media import MEDIA_RETRY_TIMEOUT, MediaService, Progress, is_media_content
from wamd.client.pairing import Pairing, checked_device_ids, registration_for
from wamd.client.prekeys import INITIAL_PREKEYS, MIN_PREKEYS, PreKeyUpkeep
from wamd.client.profile import BusinessProfile, StatusInfo
from wamd.client.receive import Receiver, chat_key
from wamd.client.send import Sender
from wamd.client.storefail import guard_store
from wamd.client.usync import OnWhatsApp, UserLookup
from wamd.defaults import DEFAULT_BROWSER, WA_URL, WA_VERSION, WHATSAPP_ROOT_PUBLIC_KEY
from wamd.errors import (
    ConnectionClosed,
    DisconnectReason,
    HandshakeError,
    PairingError,
    RequestError,
    WamdError,
)
from wamd.events import ConnectionUpdate, LastDisconnect
from wamd.media.crypto import EncryptedMedia
from wamd.media.transfer import (
    MAX_PICTURE_BYTES,
    MediaClient,
    MediaConn,
    UploadResult,
    download_blob,
)
from wamd.media.types import MediaType
from wamd.messaging import stanzas
from wamd.messaging.stanzas import OwnIds
from wamd.messaging.types import (
    CallEvent,
    GroupMetadata,
    LidMappingUpdate,
    MessageKey,
    WAMessage,
)
from wamd.noise.payload import login_payload
from wamd.proto import e2e_pb2
from wamd.store.auth import AuthState
from wamd.store.creds import Me
from wamd.transport import NodeConnection, connect_client

__all__ = [
    "INITIAL_PREKEYS",
    "MIN_PREKEYS",
    "Phase",
    "SocketOptions",
    "WASocket",
    "make_wa_socket",
]

log = logging.getLogger(__name__)

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
    push_name: str | None = None
    reject_calls: bool = False
    call_reject_message: str | None = None
    qr_timeout: tuple[float, float] = (60.0, 20.0)  # first ref, each later ref
    origin: str = "https://web.whatsapp.com"
    qr_output: Callable[[str], None] | None = None
    media_ssl: ssl.SSLContext | None = None
    media_scheme: Literal["https", "http"] = "https"  # "http": a sim's media host on loopback
    proxy: str | None = None
    media_retry_timeout: float = MEDIA_RETRY_TIMEOUT
    extra: dict[str, Any] = field(default_factory=dict)


class WASocket:
    """One logical session (see the module docstring); made by ``make_wa_socket``.

    The feature components are built on one ``ClientCore`` in one direction: devices →
    groups → send → receive, with pairing and prekey upkeep beside them. Incoming stanzas
    are dispatched by tag through ``_handlers``.
    """

    def __init__(self, auth: AuthState, options: SocketOptions) -> None:
        self.auth = auth
        self.options = options
        self.log = options.logger or log
        self.core = ClientCore(auth, options, self.log)
        self.ev = self.core.ev
        self.signal = self.core.signal
        self.devices = DeviceDirectory(
            auth.keys, self.core.query, self.core.new_sid, self.core.logger_for(devices_module)
        )
        self.devices.on_learn = lambda pn, lid: self.ev.emit(
            "lid-mapping.update", LidMappingUpdate(pn=str(pn), lid=str(lid))
        )
        self.groups = GroupDirectory(self.core)
        self.sender = Sender(self.core, self.devices, self.groups)
        self.prekeys = PreKeyUpkeep(self.core)
        self.receiver = Receiver(self.core, self.devices, self.groups, self.sender, self.prekeys)
        self.pairing = Pairing(self.core)
        self.media = MediaService(
            self.core,
            MediaClient(
                ssl=options.media_ssl,
                scheme=options.media_scheme,
                proxy=options.proxy,
                origin=options.origin,
            ),
            retry_timeout=options.media_retry_timeout,
        )
        self.receiver.history_blob = self.media.download_history
        self.users = UserLookup(self.core, self.devices)
        self.appstate = AppStateSync(self.core, self.sender.send_peer, media_download(self.media))
        self.receiver.on_app_state_keys = self.appstate.on_key_share
        self.receiver.on_server_sync = self.appstate.on_server_sync
        self.appstate.on_nct_salt = self.sender.tokens.learn_salt
        self.lifecycle = Lifecycle(self.log)
        self._task: asyncio.Task[None] | None = None
        self._ending = False  # end() was called: no reconnect, every phase winds down
        self._end_error: BaseException | None = None
        self._attempts = 0
        self._last: LastDisconnect | None = None
        # tag -> handler; looked up at dispatch time so a component can be replaced
        self._handlers: dict[str, Callable[[Attempt, Node], Awaitable[None]]] = {
            "iq": self._on_iq,
            "success": self._on_success,
            "failure": self._on_failure,
            "stream:error": self._on_stream_error,
            "message": self._on_message,
            "receipt": self._on_receipt,
            "presence": lambda _, node: self.receiver.on_presence(node),
            "chatstate": lambda _, node: self.receiver.on_chatstate(node),
            "call": self._on_call,
            "ib": self._on_ib,
            "notification": self._on_notification,
            "ack": _ignore,  # acks of stanzas we did not wait for (receipts, retries)
            "xmlstreamend": self._on_stream_end,
        }

    # ------------------------------------------------------------------ state

    @property
    def user(self) -> Me | None:
        return self.auth.creds.me

    @property
    def phase(self) -> Phase:
        return self.lifecycle.phase

    @property
    def conn(self) -> Link | None:
        """The current connection (``None`` between connections)."""
        return self.core.conn

    @property
    def marked_online(self) -> bool:
        return self.core.marked_online

    @property
    def last_disconnect(self) -> LastDisconnect | None:
        """Why the socket last closed (``None`` before its first close)."""
        return self._last

    def own_ids(self) -> OwnIds | None:
        """Our device's phone-number and lid JIDs, once paired."""
        return self.core.own_ids()

    def live_conn(self) -> Link:
        """The open connection; ``ConnectionClosed`` when there is none."""
        return self.core.live_conn()

    async def query(self, node: Node, timeout: float | None = None) -> Node:
        return await self.core.query(node, timeout)

    # ------------------------------------------------------------------ lifecycle

    async def connect(self) -> None:
        """Start connecting in the background; follow ``connection.update`` events."""
        if self._task is None or self._task.done():
            self._ending = False
            self._end_error = None
            self._task = asyncio.get_running_loop().create_task(self._run_then_close())

    async def __aenter__(self) -> WASocket:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.end()

    async def end(self, error: BaseException | None = None) -> None:
        """Close for good, in whatever phase the socket is, and return once nothing of it
        runs any more (its store may then be closed). Emits the final ``close``.

        Work cut short (a message whose handlers had not finished) was not confirmed to
        the server, which delivers it again. Cancelling ``end()`` cancels the wait, not
        the shutdown.
        """
        self._ending = True
        if error is not None:
            self._end_error = error
        task = self._task
        if task is None or task.done():
            if self.lifecycle.phase is Phase.IDLE:
                self.lifecycle.enter(Phase.CLOSED)
            return
        attempt = self.core.attempt
        if attempt is not None and attempt.conn is not None:
            attempt.decide_close(DisconnectReason.CONNECTION_CLOSED, error)
            await attempt.conn.close(DisconnectReason.CONNECTION_CLOSED, "ended by the application")
        else:
            task.cancel()  # still connecting: nothing to close gracefully
        await asyncio.wait({task})
        if self.lifecycle.phase is Phase.IDLE:  # cancelled before it ever ran
            self.lifecycle.enter(Phase.CLOSED)

    async def wait_closed(self) -> LastDisconnect | None:
        """Wait until the socket has closed for good; returns the final reason."""
        if self._task is not None:
            await asyncio.wait({self._task})
        return self._last

    async def logout(self) -> None:
        """Remove this device from the account and forget the credentials' login."""
        me = self.auth.creds.me
        if self.conn is not None and me is not None:
            with contextlib.suppress(WamdError):
                await self.query(
                    stanzas.iq(
                        "set",
                        "md",
                        [
                            Node(
                                "remove-companion-device",
                                {"jid": me.id, "reason": "user_initiated"},
                            )
                        ],
                    )
                )
        attempt = self.core.attempt
        if attempt is not None:
            attempt.decide_close(DisconnectReason.LOGGED_OUT, None)
        self.core.change_creds({"me": None, "account": None, "registered": False})
        await self.end()

    # ------------------------------------------------------------------ the connection loop

    async def _run_then_close(self) -> None:
        try:
            await self._run()
        finally:
            await self.media.close()  # the media HTTP session lives as long as the socket

    def _payload(self) -> bytes:
        creds = self.auth.creds
        opts = self.options
        if creds.me is not None:
            jid = JID.parse(creds.me.id)
            return login_payload(
                jid.user, jid.device, version=opts.version, push_name=creds.me.name
            )
        return registration_for(creds, version=opts.version, browser=opts.browser)

    async def _run(self) -> None:
        new_login = False  # paired on a registration connection: the next open is new
        while True:
            self._attempts += 1
            attempt = Attempt(
                self._attempts, registering=self.auth.creds.me is None, new_login=new_login
            )
            self.core.attempt = attempt
            self.pairing.attempt_started()
            self.lifecycle.enter(Phase.CONNECTING)
            self.ev.emit("connection.update", ConnectionUpdate(connection="connecting"))
            try:
                conn = await connect_client(
                    self.options.url,
                    noise_key=self.auth.creds.noise_key,
                    client_payload=self._payload(),
                    trusted_root=self.options.server_root_key,
                    root_serial=self.options.server_root_serial,
                    connect_timeout=self.options.connect_timeout,
                    origin=self.options.origin,
                    proxy=self.options.proxy,
                )
            except asyncio.CancelledError:
                if not self._ending:
                    raise
                _uncancel()  # end() while connecting: the final close, then stop
                closed = ConnectionClosed(
                    DisconnectReason.CONNECTION_CLOSED, "ended while connecting"
                )
                self._close_unconnected(attempt, closed, closed.status_code)
                return
            except HandshakeError as exc:
                self._close_unconnected(attempt, exc, DisconnectReason.BAD_SESSION)
                return
            except ConnectionClosed as exc:
                self._close_unconnected(attempt, exc, exc.status_code)
                return
            except (WamdError, OSError) as exc:
                # whatever else fails while connecting (a text frame in the handshake, a
                # refused socket) ends this attempt with a typed reason, never escapes
                reason = (
                    DisconnectReason.BAD_SESSION
                    if isinstance(exc, WamdError)
                    else DisconnectReason.CONNECTION_CLOSED
                )
                failed = ConnectionClosed(reason, f"cannot connect: {exc}")
                self._close_unconnected(attempt, failed, reason)
                return
            attempt.conn = conn
            self.lifecycle.enter(Phase.PAIRING if attempt.registering else Phase.LOGGING_IN)
            if self._ending:  # end() came while the handshake finished
                attempt.decide_close(DisconnectReason.CONNECTION_CLOSED, None)
                await conn.close(DisconnectReason.CONNECTION_CLOSED, "ended by the application")
            conn.start(functools.partial(self._dispatch, attempt))
            try:
                closed = await conn.wait_closed()
            except asyncio.CancelledError:
                if not self._ending:
                    raise
                _uncancel()
                await conn.close(DisconnectReason.CONNECTION_CLOSED, "ended by the application")
                closed = await conn.wait_closed()
            self.lifecycle.enter(Phase.CLOSING)
            self.pairing.stop_qr()
            await attempt.finish()  # nothing of this connection runs past here
            self.core.marked_online = False
            code = int(attempt.reason if attempt.reason is not None else closed.status_code)
            error: BaseException = (
                self._end_error or attempt.error or ConnectionClosed(code, str(closed))
            )
            self._emit_close(error, code)
            if code == DisconnectReason.RESTART_REQUIRED and not self._ending:
                new_login = attempt.new_login
                continue  # whatsmeow reconnects by itself after 515
            self.lifecycle.enter(Phase.CLOSED)
            return

    def _close_unconnected(self, attempt: Attempt, error: BaseException, code: int) -> None:
        attempt.ended = True
        self.lifecycle.enter(Phase.CLOSING)
        self._emit_close(self._end_error or error, int(code))
        self.lifecycle.enter(Phase.CLOSED)

    def _emit_close(self, error: BaseException | None, code: int) -> None:
        self._last = LastDisconnect(error=error, status_code=code)
        if code == DisconnectReason.LOGGED_OUT and self.auth.creds.me is not None:
            # the state can no longer log in: say so in it, for the next start (save_creds)
            self.core.change_creds({"logged_out_at": int(time.time())})
        self.ev.emit(
            "connection.update", ConnectionUpdate(connection="close", last_disconnect=self._last)
        )

    async def _close_attempt(
        self, attempt: Attempt, reason: DisconnectReason | int, message: str
    ) -> None:
        """Close ``attempt``'s connection for ``reason`` (kept as its close error)."""
        attempt.decide_close(reason, ConnectionClosed(reason, message))
        if attempt.conn is not None:
            await attempt.conn.close(reason, message)

    # ------------------------------------------------------------------ messaging API

    async def send_message(
        self,
        jid: JID | str,
        content: AnyMessageContent | e2e_pb2.Message,
        *,
        quoted: WAMessage | None = None,
        mentions: Sequence[str] = (),
        message_id: str | None = None,
        upload_progress: Progress | None = None,
    ) -> WAMessage:
        """Send ``content`` (``{"text": ...}``, ``{"react": ...}``, ``{"edit": key, "text": ...}``,
        ``{"delete": key}``, media — ``{"image": src, ...}``, ``"video"``, ``"audio"``,
        ``"document"``, ``"sticker"`` — or a ``Message``) to a user or group; returns the
        sent message. Media is encrypted and uploaded first; ``upload_progress(sent,
        total)`` is called as the blob goes out (see ``wamd/client/media.py``)."""
        if is_media_content(content):
            fields = cast("Mapping[str, Any]", content)
            extra = fields.get("mentions", ())
            media = {k: v for k, v in fields.items() if k != "mentions"}
            message = await self.media.build_message(
                media,
                context=context_info(quoted, [*mentions, *extra]),
                progress=upload_progress,
            )
            return await self.sender.send_message(jid, message, message_id=message_id)
        return await self.sender.send_message(
            jid, content, quoted=quoted, mentions=mentions, message_id=message_id
        )

    # ------------------------------------------------------------------ media

    async def download_media(
        self,
        message: WAMessage | e2e_pb2.Message,
        to: str | os.PathLike[str] | Any | None = None,
        *,
        reupload: bool = True,
    ) -> bytes | None:
        """The media of ``message``: its bytes, or ``None`` once written ``to`` a path (a
        ``.part`` file renamed when every check passed) or a writable stream (sync or
        async ``write``). Every check whatsmeow makes is made (``MediaIntegrityError``
        names the one that failed). Media gone from the server (404/410) is asked of
        our phone again (media retry) unless ``reupload=False``. ``NotMedia`` when there
        is nothing to download."""
        return await self.media.download(message, to, reupload=reupload)

    async def update_media_message(self, message: WAMessage) -> WAMessage:
        """Ask our phone to upload the media of ``message`` again; the message with its
        new direct path (Baileys ``updateMediaMessage``; ``MediaRetryError`` if it cannot)."""
        return await self.media.request_reupload(message)

    async def media_conn(self, force: bool = False) -> MediaConn:
        """The media hosts and upload auth (``w:m``), cached until its ttl."""
        return await self.media.media_conn(force)

    async def upload_media(
        self, src: Any, media_type: MediaType | str, progress: Progress | None = None
    ) -> tuple[UploadResult, EncryptedMedia]:
        """Encrypt and upload a blob (bytes, path, file or async stream): where it went
        and the fields a message needs. ``send_message`` does this for media content."""
        return await self.media.upload(src, media_type, progress)

    async def download_blob(
        self,
        *,
        direct_path: str,
        media_key: bytes,
        file_enc_sha256: bytes | None,
        file_sha256: bytes | None,
        file_length: int | None,
        media_type: MediaType | str,
    ) -> bytes:
        """Download and check a blob that is not a chat message's (app-state snapshots and
        patches: ``media_type="app_state"``; history chunks: ``"history"``); see
        ``wamd.media.download_blob``."""
        return await download_blob(
            self.media.http,
            await self.media.media_conn(),
            direct_path=direct_path,
            media_key=media_key,
            file_enc_sha256=file_enc_sha256,
            file_sha256=file_sha256,
            file_length=file_length,
            media_type=media_type,
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

    async def reject_call(self, call: CallEvent | str, caller: str | None = None) -> None:
        """Reject an incoming call: a ``CallEvent`` from the ``call`` event, or its id and
        the caller's JID. (``reject_calls=True`` does this for every call.)"""
        await self.receiver.calls.reject(call, caller)

    async def on_whatsapp(self, *numbers: str) -> list[OnWhatsApp]:
        """Which of these phone numbers (international form: ``"+15551234567"``) are on
        WhatsApp: per distinct number, in order, ``exists``, its ``jid`` and ``lid`` (kept as
        a mapping) and whether it is a business (``is_business``, ``verified_name``).
        ``InvalidPhoneNumber`` names a number that is not one."""
        return await self.users.on_whatsapp(numbers)

    # profile and privacy (wamd/client/profile.py; Baileys' names)

    async def profile_picture_url(
        self, jid: str, type: Literal["preview", "image"] = "preview"
    ) -> str | None:
        """The URL of a user's or group's picture; ``None`` when none is set."""
        return await self.receiver.profile.profile_picture_url(jid, type)

    async def download_profile_picture(
        self, jid: str, type: Literal["preview", "image"] = "preview"
    ) -> bytes | None:
        """The JPEG of a user's or group's picture (``None`` when none is set), fetched
        from the URL ``profile_picture_url`` gives, through the media HTTP client (its
        TLS and ``proxy=``). ``MediaUnavailable`` when the URL is refused (403: its
        signature expired, ask again; 404: the picture changed meanwhile)."""
        url = await self.profile_picture_url(jid, type)
        if url is None:
            return None
        return await self.media.http.fetch_bytes(url, MAX_PICTURE_BYTES)

    async def update_profile_picture(self, jid: str, jpeg: bytes) -> str:
        """Set our own (``jid`` = our JID) or a group's picture; returns its id."""
        return await self.receiver.profile.update_profile_picture(jid, jpeg)

    async def remove_profile_picture(self, jid: str) -> None:
        await self.receiver.profile.remove_profile_picture(jid)

    async def fetch_status(self, *jids: str) -> list[StatusInfo]:
        """Users' about texts."""
        return await self.receiver.profile.fetch_status(list(jids))

    async def update_profile_status(self, status: str) -> None:
        """Our about text (up to 139 characters)."""
        await self.receiver.profile.update_profile_status(status)

    async def get_business_profile(self, jid: str) -> BusinessProfile | None:
        return await self.receiver.profile.get_business_profile(jid)

    async def fetch_blocklist(self) -> list[str]:
        return await self.receiver.profile.fetch_blocklist()

    async def update_block_status(self, jid: str, action: Literal["block", "unblock"]) -> list[str]:
        return await self.receiver.profile.update_block_status(jid, action)

    async def fetch_privacy_settings(self) -> dict[str, str]:
        return await self.receiver.profile.fetch_privacy_settings()

    async def update_privacy_setting(self, name: str, value: str) -> None:
        """One privacy category (``last``, ``online``, ``profile``, ``status``,
        ``readreceipts``, ``groupadd``, ``calladd``, ``messages``) to one of its values."""
        await self.receiver.profile.update_privacy_setting(name, value)

    async def update_default_disappearing_mode(self, seconds: int) -> None:
        """The timer new chats start with (0: off)."""
        await self.receiver.profile.update_default_disappearing(seconds)

    async def set_push_name(self, name: str) -> None:
        """Make ``name`` (1-25 characters) our push name, the name contacts see on our
        messages; announced at once with ``available`` presence when we are online.

        The phone keeps the account's name in the app state (``setting_pushName``); wamd
        does not write it there yet, so the phone and other devices keep theirs.
        """
        checked = check_push_name(name)
        if self.user is None:
            raise NotLoggedIn("not logged in: pair the device first")
        self.receiver.push_names.set_own(checked)
        online_wanted = self.core.marked_online or self.options.mark_online_on_connect
        if self.phase is Phase.OPEN and online_wanted:
            await self.sender.send_presence_update("available")

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

    # group administration (wamd/client/group_admin.py; Baileys' names)

    async def group_leave(self, jid: str) -> None:
        await self.groups.admin.leave(jid)

    async def group_update_description(self, jid: str, description: str | None) -> None:
        """Set the group's description; ``None`` or ``""`` removes it."""
        await self.groups.admin.update_description(jid, description)

    async def group_setting_update(
        self, jid: str, setting: Literal["announcement", "not_announcement", "locked", "unlocked"]
    ) -> None:
        """``announcement``: only admins send messages; ``locked``: only admins edit the info."""
        await self.groups.admin.setting_update(jid, setting)

    async def group_member_add_mode(
        self, jid: str, mode: Literal["admin_add", "all_member_add"]
    ) -> None:
        await self.groups.admin.member_add_mode(jid, mode)

    async def group_join_approval_mode(self, jid: str, mode: Literal["on", "off"]) -> None:
        await self.groups.admin.join_approval_mode(jid, mode)

    async def group_toggle_ephemeral(self, jid: str, seconds: int) -> None:
        """The group's disappearing-messages timer in seconds (0 turns it off)."""
        await self.groups.admin.toggle_ephemeral(jid, seconds)

    async def group_invite_code(self, jid: str) -> str:
        """The invite code (the link is ``https://chat.whatsapp.com/`` + code)."""
        return await self.groups.admin.invite_code(jid)

    async def group_revoke_invite(self, jid: str) -> str:
        """Revoke the invite link; returns the new code."""
        return await self.groups.admin.revoke_invite(jid)

    async def group_accept_invite(self, code: str) -> str:
        """Join by invite code or link; returns the group's JID."""
        return await self.groups.admin.accept_invite(code)

    async def group_get_invite_info(self, code: str) -> GroupMetadata:
        return await self.groups.admin.get_invite_info(code)

    async def group_request_participants_list(self, jid: str) -> list[dict[str, Any]]:
        """Pending join requests: ``{"jid", "request_time"}`` each."""
        return await self.groups.admin.request_participants_list(jid)

    async def group_request_participants_update(
        self, jid: str, participants: Sequence[str], action: Literal["approve", "reject"]
    ) -> list[tuple[str, int]]:
        return await self.groups.admin.request_participants_update(jid, participants, action)

    async def group_fetch_all_participating(self) -> dict[str, GroupMetadata]:
        """Every group this account is in, by JID."""
        return await self.groups.admin.fetch_all_participating()

    # ------------------------------------------------------------------ app state

    async def chat_modify(
        self,
        jid: str,
        *,
        archive: bool | None = None,
        mute: int | bool | None = None,
        pin: bool | None = None,
        read: bool | None = None,
        clear: bool = False,
        delete: bool = False,
        star: tuple[MessageKey, bool] | None = None,
        delete_for_me: tuple[MessageKey, int] | None = None,
        last_message_timestamp: int | None = None,
    ) -> None:
        """Change a chat through the app state, as the phone does (Baileys ``chatModify``).

        Exactly one change per call: ``archive=True|False``; ``mute=`` a time in ms
        until which to mute, ``True`` for ever, ``False`` to unmute; ``pin=``;
        ``read=True|False`` (mark read or unread); ``clear=True``; ``delete=True``;
        ``star=(message key, True|False)``; ``delete_for_me=(message key, its timestamp
        in s)``. ``last_message_timestamp`` (s) names the newest message the change
        covers (now by default). The phone and our other devices see the change; this
        socket emits its event too once the server has it. ``AppStateError`` when the
        server refuses it, ``AppStateKeyMissing`` before the phone shared a key.
        """
        chosen = [
            name
            for name, value in (
                ("archive", archive),
                ("mute", mute),
                ("pin", pin),
                ("read", read),
                ("star", star),
                ("delete_for_me", delete_for_me),
            )
            if value is not None
        ] + [name for name, flag in (("clear", clear), ("delete", delete)) if flag]
        if len(chosen) != 1:
            raise ValueError(f"chat_modify takes exactly one change, not {chosen or 'none'}")
        chat = str(JID.parse(jid).to_non_ad())
        last = last_message_timestamp or int(time.time())
        request: appstate_actions.PatchRequest
        if archive is not None:
            request = appstate_actions.archive(chat, archive, last)
        elif mute is not None:
            until = None if mute is False else -1 if mute is True else int(mute)
            request = appstate_actions.mute(chat, until)
        elif pin is not None:
            request = appstate_actions.pin(chat, pin)
        elif read is not None:
            request = appstate_actions.mark_read(chat, read, last)
        elif star is not None:
            request = appstate_actions.star(star[0], star[1])
        elif delete_for_me is not None:
            request = appstate_actions.delete_for_me(delete_for_me[0], delete_for_me[1])
        elif clear:
            request = appstate_actions.clear_chat(chat, last)
        else:
            request = appstate_actions.delete_chat(chat, last)
        await self.appstate.write(request)

    async def add_or_edit_contact(self, jid: str, full_name: str | None) -> None:
        """Save a contact's name on the account (``None`` removes it)."""
        chat = str(JID.parse(jid).to_non_ad())
        await self.appstate.write(appstate_actions.save_contact(chat, full_name))

    async def add_label(self, label_id: str, name: str, color: int = 0) -> None:
        """Create or rename a label (``labels.edit`` on every device)."""
        await self.appstate.write(appstate_actions.label_edit(label_id, name, color))

    async def delete_label(self, label_id: str, name: str, color: int = 0) -> None:
        await self.appstate.write(appstate_actions.label_edit(label_id, name, color, True))

    async def add_chat_label(self, jid: str, label_id: str) -> None:
        chat = str(JID.parse(jid).to_non_ad())
        await self.appstate.write(appstate_actions.label_chat(chat, label_id, True))

    async def remove_chat_label(self, jid: str, label_id: str) -> None:
        chat = str(JID.parse(jid).to_non_ad())
        await self.appstate.write(appstate_actions.label_chat(chat, label_id, False))

    async def update_profile_name(self, name: str) -> None:
        """Change our push name (the name sent with presence; Baileys ``updateProfileName``)."""
        if not name:
            raise ValueError("a push name cannot be empty")
        await self.appstate.write(appstate_actions.push_name(name))

    async def resync_app_state(self, collections: Sequence[str] | None = None) -> None:
        """Fetch the app state now (all five collections by default)."""
        await self.appstate.sync(list(collections) if collections else COLLECTIONS)

    async def request_pairing_code(
        self, phone_number: str, show_push_notification: bool = True
    ) -> str:
        """Ask WhatsApp for a code to type on the phone; returns the 8 characters.

        The socket must be connecting as a new device (a fresh auth state). The phone
        number is the account's, in international form (digits; '+', spaces and dashes
        are ignored). Pairing then completes like QR pairing (``connection.update``).
        """
        return await self.pairing.request_code(phone_number, show_push_notification)

    async def idle(self) -> None:
        """Wait until every stanza received so far has been handled."""
        attempt = self.core.attempt
        if attempt is not None:
            await attempt.workers.join()
        await self.ev.drain()
        await self.receiver.settle_pending()
        await self.appstate.idle()
        await self.sender.tokens.idle()  # our privacy tokens being issued
        await self.ev.drain()  # what the syncs emitted
        write_through = getattr(self.core.auth.keys, "write_through", None)
        if write_through is not None:  # grouped commits' key files written (multi-file)
            await write_through()

    # ------------------------------------------------------------------ incoming nodes

    async def _dispatch(self, attempt: Attempt, node: Node) -> None:
        if attempt.ended:
            return  # a stanza that raced the end of its connection: it comes again
        handler = self._handlers.get(node.tag)
        if handler is None:
            self.log.debug("unhandled <%s>", node.tag)
            return
        await handler(attempt, node)

    async def _on_message(self, attempt: Attempt, node: Node) -> None:
        attempt.workers.submit(
            chat_key(node), lambda: guard_store(self.core, attempt, self.receiver.on_message(node))
        )

    async def _on_receipt(self, attempt: Attempt, node: Node) -> None:
        attempt.workers.submit(
            " receipts", lambda: guard_store(self.core, attempt, self.receiver.on_receipt(node))
        )

    async def _on_call(self, attempt: Attempt, node: Node) -> None:
        attempt.workers.submit(" calls", lambda: self.receiver.on_call(node))

    async def _on_ib(self, attempt: Attempt, node: Node) -> None:
        if node.get_child("offline") is not None:
            # the backlog is delivered: say so once it is handled and the socket is open
            self.core.spawn(self._offline_backlog_done(attempt), attempt)

    async def _offline_backlog_done(self, attempt: Attempt) -> None:
        await attempt.opened.wait()
        await attempt.workers.join()
        self.ev.emit("connection.update", ConnectionUpdate(received_pending_notifications=True))

    async def _on_notification(self, attempt: Attempt, node: Node) -> None:
        if node.attrs.get("type") == "link_code_companion_reg":
            await self.receiver.ack(node)  # whatsmeow receipt.go sendAck
            self.core.spawn(self.pairing.on_code_notification(node), attempt)
        elif node.attrs.get("type") == "mediaretry":
            await self.receiver.ack(node)  # whatsmeow notification.go: handleMediaRetryNotification
            self.media.on_retry_notification(node)
        else:
            attempt.workers.submit(
                " notifications",
                lambda: guard_store(self.core, attempt, self.receiver.on_notification(node)),
            )

    async def _on_failure(self, attempt: Attempt, node: Node) -> None:
        raw = node.attrs.get("reason", "")
        reason = int(raw) if raw.isdigit() else 0
        mapped = _FAILURES.get(reason, reason or DisconnectReason.BAD_SESSION)
        message = f"connect failure {raw!r}" if not raw.isdigit() else f"connect failure {reason}"
        if reason == 405:
            message = (
                "client outdated (405): WhatsApp refused this web version "
                f"{'.'.join(map(str, self.options.version))}; update wamd, or pass "
                "version=await wamd.client.fetch_latest_version()"
            )
        await self._close_attempt(attempt, mapped, message)

    async def _on_stream_error(self, attempt: Attempt, node: Node) -> None:
        raw = node.attrs.get("code", "")
        code = int(raw) if raw.isdigit() else 0
        conflict = node.get_child("conflict")
        kind = conflict.attrs.get("type") if conflict is not None else None
        if code == 515:
            reason: DisconnectReason | int = DisconnectReason.RESTART_REQUIRED
        elif kind == "device_removed" or code == 401:
            reason = DisconnectReason.LOGGED_OUT
        elif kind == "replaced":
            reason = DisconnectReason.CONNECTION_REPLACED
        else:
            # an unknown or malformed code still ends the connection, with a typed reason
            reason = _FAILURES.get(code, DisconnectReason.BAD_SESSION)
        shown = raw if code or not raw else repr(raw)
        text = f"stream error {shown} {kind or ''}".strip()
        await self._close_attempt(attempt, reason, text)

    async def _on_stream_end(self, attempt: Attempt, node: Node) -> None:
        await self._close_attempt(
            attempt, DisconnectReason.CONNECTION_CLOSED, "server ended the stream"
        )

    async def _on_iq(self, attempt: Attempt, node: Node) -> None:
        if node.attrs.get("from") != SERVER:
            return
        if node.attrs.get("type") == "get" and node.attrs.get("xmlns") == "urn:xmpp:ping":
            # the server's ping is answered whatever it holds (none, one or more children)
            await self.core.send_quietly(stanzas.iq_result(node))
            return
        children = node.get_children()
        if len(children) != 1:
            return
        child = children[0]
        if child.tag == "pair-device":
            await self.pairing.on_pair_device(attempt, node, child)
        elif child.tag == "pair-success":
            await self.pairing.on_pair_success(attempt, node, child)

    # ------------------------------------------------------------------ login

    async def _on_success(self, attempt: Attempt, node: Node) -> None:
        if attempt.registering:
            # whatsmeow: a connection made without a device is only for pairing; a
            # <success> there starts nothing (the 515 after pair-success follows)
            self.log.debug("ignoring <success> on a registration connection")
            return
        if attempt.logged_in:
            self.log.warning("ignoring a second <success> on one connection")
            return
        attempt.logged_in = True
        self.core.spawn(self._after_login(attempt, node), attempt)

    def _take_success_lid(self, node: Node) -> None:
        """Our lid as ``<success lid>`` names it, stored only when it is a lid: every
        later message would otherwise go out from a malformed address."""
        me = self.auth.creds.me
        lid = node.attrs.get("lid")
        if not lid or me is None or me.lid == lid:
            return
        try:
            _, checked = checked_device_ids(me.id, lid)
        except PairingError as exc:
            self.log.warning("ignoring the lid of <success>: %s", exc)
            return
        self.core.change_creds({"me": Me(me.id, checked, me.name)})

    async def _after_login(self, attempt: Attempt, node: Node) -> None:
        self._take_success_lid(node)
        try:
            await self.prekeys.upkeep()
            await self.query(stanzas.iq("set", "passive", [Node("active")]))
            own = self.core.own_ids()
            if own is not None and own.lid is not None:
                await self.devices.learn(own.pn.to_non_ad(), own.lid.to_non_ad())
            if self.options.push_name is not None:
                self.receiver.push_names.set_own(self.options.push_name)
            if self.options.mark_online_on_connect:
                me = self.auth.creds.me
                if me is not None and me.name:
                    await self.sender.send_presence_update("available")
                else:  # as both references: no presence without a name (receipts "inactive")
                    self.log.info("no push name yet: not announcing presence (push_name=...)")
        except (WamdError, RequestError) as exc:
            conn = attempt.conn
            if conn is not None and conn.closed:
                self.log.debug("connection closed during post-login setup: %s", exc)
                return
            self.log.warning("post-login setup failed: %s", exc)
        conn = attempt.conn
        if conn is None or conn.closed:
            return  # closed meanwhile: this connection never opens
        if isinstance(conn, NodeConnection):
            conn.start_keepalive(self.options.keepalive_interval, self.options.keepalive_timeout)
        self.lifecycle.enter(Phase.OPEN)
        self.ev.emit(
            "connection.update", ConnectionUpdate(connection="open", is_new_login=attempt.new_login)
        )
        attempt.opened.set()
        # the app state changed while we were away: fetch it (once we hold a key; a new
        # device syncs when the phone shares its keys)
        await self.appstate.sync_at_login()


async def _ignore(attempt: Attempt, node: Node) -> None:
    return None


def _uncancel() -> None:
    """Take back the cancellation that ``end()`` used to interrupt a wait (it is handled)."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


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
    push_name: str | None = None,
    reject_calls: bool = False,
    call_reject_message: str | None = None,
    qr_timeout: tuple[float, float] = (60.0, 20.0),
    origin: str = "https://web.whatsapp.com",
    qr_output: Callable[[str], None] | None = None,
    media_ssl: ssl.SSLContext | None = None,
    media_scheme: Literal["https", "http"] = "https",
    proxy: str | None = None,
    media_retry_timeout: float = MEDIA_RETRY_TIMEOUT,
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
        push_name=check_push_name(push_name) if push_name is not None else None,
        reject_calls=reject_calls,
        call_reject_message=call_reject_message,
        qr_timeout=qr_timeout,
        origin=origin,
        qr_output=qr_output,
        media_ssl=media_ssl,
        media_scheme=media_scheme,
        proxy=proxy,
        media_retry_timeout=media_retry_timeout,
        extra=dict(extra or {}),
    )
    return WASocket(auth, options)
