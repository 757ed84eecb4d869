"""``Desk``: one WhatsApp account shared by a bot (in one or more processes) and human admins.

Every linked device of an account receives every message, so without coordination each
bot process and each admin answers the same customer. A ``Desk`` wraps a socket and an
``AssignmentBackend`` shared by all bot processes and gives three things:

- **exactly one consumer per message**: ``@desk.once`` on a ``messages.upsert`` handler
  lets through only the messages this process marked handled first (set-if-absent on
  chat + participant + id in the backend), so of several bot processes one answers;
- **bot sends are recorded first**: ``desk.send``/``desk.reply`` make the message id,
  record it in the backend, then send with that id. A bot's reply reaches the other bot
  processes as a ``from_me`` message (a device-sent message) *after* it was recorded;
- **human takeover**: a ``from_me`` message whose id no bot recorded was sent by a human on
  another device of the account. Its chat is claimed (forced) for that admin for
  ``takeover_ttl`` seconds; while an admin holds a chat, ``once`` handlers do not see its
  messages and ``send`` refuses with ``ChatHeld``. Each further admin message renews it.

The admin is named by ``admins`` (sending device JID -> name, from ``WAMessage.sender``),
else by the device JID itself. Crashes: a process that dies after marking a message and
before replying leaves it unanswered (at most once, never twice); a backend error while
deciding skips the message for the same reason.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import socket as _socket
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any, Literal, Protocol

from wamd.assign.base import AssignmentBackend
from wamd.assign.errors import AssignmentError, ChatHeld
from wamd.assign.types import HANDLED_TTL, SENT_TTL, Claim, check_name, check_ttl
from wamd.binary.jid import JID, InvalidJID
from wamd.events import MessagesUpsert
from wamd.messaging.core import new_message_id
from wamd.messaging.types import WAMessage

__all__ = ["DEFAULT_TAKEOVER_TTL", "Desk", "DeskSocket", "is_admin_reply"]

log = logging.getLogger(__name__)

DEFAULT_TAKEOVER_TTL = 30 * 60.0  # seconds the bot stays quiet after an admin's message
_SEEN_MAX = 4096  # from_me messages remembered, so the desk and its handlers judge each once

UpsertHandler = Callable[[MessagesUpsert], Awaitable[None] | None]
TakeoverHandler = Callable[[Claim, WAMessage], Awaitable[None] | None]

# Message fields that carry no reply of a human: key shares and other protocol traffic
# between one's own devices, reactions, sender-key distribution beside group messages.
_NOT_A_REPLY = frozenset(
    {
        "protocolMessage",
        "reactionMessage",
        "senderKeyDistributionMessage",
        "fastRatchetKeySenderKeyDistributionMessage",
        "messageContextInfo",
        "placeholderMessage",
        "deviceSentMessage",
    }
)


class Events(Protocol):
    def on(
        self,
        name: Literal["messages.upsert"],
        handler: Callable[[MessagesUpsert], Awaitable[None]],
    ) -> Any: ...


class DeskUser(Protocol):
    @property
    def id(self) -> str: ...


class DeskSocket(Protocol):
    """What a ``Desk`` needs of a socket (``WASocket`` fits): events, who we are, sending."""

    @property
    def ev(self) -> Events: ...

    @property
    def user(self) -> DeskUser | None: ...

    async def send_message(
        self, jid: str, content: Any, *, message_id: str | None = None, quoted: Any = None
    ) -> Any: ...


def is_admin_reply(msg: WAMessage) -> bool:
    """Whether a ``from_me`` message is something a human wrote to a chat.

    Not: undecrypted stubs, status and newsletter posts, protocol messages (app-state key
    shares, revokes, history-sync notices), reactions.
    """
    content = msg.content
    if content is None:
        return False
    chat = msg.key.remote_jid
    if chat.endswith("@broadcast") or chat.endswith("@newsletter"):
        return False
    return any(f.name not in _NOT_A_REPLY for f, _ in content.ListFields())


def _user_of(jid: str | None) -> str | None:
    if not jid:
        return None
    try:
        return JID.parse(jid).user
    except InvalidJID:
        return None


class Desk:
    """Coordinates this bot process with the other bot processes and the human admins.

    ``name`` is the bot's handler name, shared by all its processes (chats held by it are
    the bot's); ``instance`` names this process in marks and send records (diagnostics).
    ``types`` are the ``messages.upsert`` types acted on (``"append"`` is history).
    ``bot_devices`` lists device JIDs whose messages are never a takeover even if sent
    without the desk (this socket's own device is always included). ``chat_key`` maps a
    chat JID to the key it is assigned under, for chats that arrive under two names (a
    customer's phone-number JID and LID), so that a reply addressed one way silences the
    bot for messages arriving the other way; by default the socket's own
    ``phone_number_jid`` (``WASocket`` has it: a known lid becomes its phone number).
    """

    def __init__(
        self,
        sock: DeskSocket,
        assignments: AssignmentBackend,
        *,
        name: str = "bot",
        instance: str | None = None,
        admins: Mapping[str, str] | None = None,
        takeover_ttl: float = DEFAULT_TAKEOVER_TTL,
        handled_ttl: float = HANDLED_TTL,
        sent_ttl: float = SENT_TTL,
        bot_devices: Iterable[str] = (),
        types: Collection[str] = ("notify",),
        on_takeover: TakeoverHandler | None = None,
        admin_reply: Callable[[WAMessage], bool] = is_admin_reply,
        chat_key: Callable[[str], str | Awaitable[str]] | None = None,
        subscribe: bool = True,
    ) -> None:
        if not isinstance(assignments, AssignmentBackend):
            raise AssignmentError(
                f"assignments must be an AssignmentBackend, got {type(assignments).__name__}"
            )
        self.sock = sock
        self.assignments = assignments
        self.name = check_name(name, "name")
        self.instance = check_name(
            instance or f"{name}/{_socket.gethostname()}/{os.getpid()}", "instance"
        )
        self.admins = {
            check_name(d, "admin device"): check_name(n, "admin name")
            for d, n in (admins or {}).items()
        }
        if self.name in self.admins.values():
            raise AssignmentError(f"an admin cannot be named like the bot ({self.name!r})")
        check_ttl(takeover_ttl, "takeover_ttl")
        check_ttl(handled_ttl, "handled_ttl")
        check_ttl(sent_ttl, "sent_ttl")
        self.takeover_ttl = takeover_ttl
        self.handled_ttl = handled_ttl
        self.sent_ttl = sent_ttl
        self.bot_devices = frozenset(check_name(d, "bot device") for d in bot_devices)
        self.types = frozenset((types,) if isinstance(types, str) else types)
        self.on_takeover = on_takeover
        self._admin_reply = admin_reply
        # by default a socket that knows lid <-> phone-number mappings keys chats by number
        self._chat_key = (
            chat_key if chat_key is not None else getattr(sock, "phone_number_jid", None)
        )
        self._seen: OrderedDict[tuple[str, str, str], asyncio.Future[Claim | None]] = OrderedDict()
        self._listener = self._on_upsert
        self._subscribed = subscribe
        if subscribe:
            sock.ev.on("messages.upsert", self._listener)

    def close(self) -> None:
        """Stop watching ``messages.upsert`` (the backend stays open: it is the caller's)."""
        off = getattr(self.sock.ev, "off", None)
        if self._subscribed and off is not None:
            off("messages.upsert", self._listener)
        self._subscribed = False

    # ------------------------------------------------------------------ who is who

    def admin_name(self, device: str | None) -> str:
        """The admin that device JID ``device`` belongs to (the JID itself when unnamed)."""
        if not device:
            return "admin"
        return self.admins.get(device, device)

    def _own(self) -> tuple[frozenset[str], str | None]:
        user = self.sock.user
        if user is None:
            return self.bot_devices, None
        devices = {user.id}
        lid = getattr(user, "lid", None)
        if isinstance(lid, str) and lid:
            devices.add(lid)
        return self.bot_devices | devices, _user_of(user.id)

    # ------------------------------------------------------------------ incoming

    async def _on_upsert(self, upsert: MessagesUpsert) -> None:
        for msg in upsert.messages:
            if isinstance(msg, WAMessage) and msg.key.from_me:
                await self.observe(msg, upsert.type)

    async def observe(self, msg: WAMessage, type: str = "notify") -> Claim | None:
        """Judge a ``from_me`` message once: the admin's claim when it was a takeover.

        The desk's own ``messages.upsert`` listener and every ``once`` handler call this;
        each message is judged once per process (the others await the same answer).
        """
        key = (msg.key.remote_jid, msg.key.participant or "", msg.key.id)
        judged = self._seen.get(key)
        if judged is None:
            judged = asyncio.ensure_future(self._judge(msg, type))
            self._seen[key] = judged
            while len(self._seen) > _SEEN_MAX:
                self._seen.popitem(last=False)
        return await asyncio.shield(judged)

    async def _judge(self, msg: WAMessage, type: str) -> Claim | None:
        try:
            if not msg.key.from_me or type not in self.types or not self._admin_reply(msg):
                return None
            devices, own_user = self._own()
            if msg.sender is not None and msg.sender in devices:
                return None  # this process (or a listed bot device) sent it
            if own_user is not None and _user_of(msg.key.remote_jid) == own_user:
                return None  # a note to self, not a customer chat
            if await self.assignments.sent_by(msg.key.id) is not None:
                return None  # a bot recorded it before sending
            admin = self.admin_name(msg.sender)
            claim = await self.assignments.claim(
                await self.chat_of(msg.key.remote_jid), admin, self.takeover_ttl, force=True
            )
        except Exception:
            log.exception("could not judge message %s in %s", msg.key.id, msg.key.remote_jid)
            return None
        if claim is not None and claim.fresh:
            log.info("chat %s taken over by %s", claim.chat, claim.handler)
            if self.on_takeover is not None:
                try:
                    result = self.on_takeover(claim, msg)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("on_takeover handler %r raised", self.on_takeover)
        return claim

    async def chat_of(self, jid: str) -> str:
        """The key ``jid`` is assigned under (``chat_key`` applied, when given)."""
        chat = check_name(jid, "chat")
        if self._chat_key is None:
            return chat
        key = self._chat_key(chat)
        if inspect.isawaitable(key):
            key = await key
        return check_name(key, "chat key")

    async def quiet_in(self, chat: str) -> Claim | None:
        """The claim of someone else (an admin) on ``chat``, when the bot must stay quiet."""
        held = await self.assignments.holder(await self.chat_of(chat))
        return held if held is not None and held.handler != self.name else None

    async def mark_handled(self, msg: WAMessage) -> bool:
        """Mark ``msg`` handled by this bot: True for the first process to do so."""
        return await self.assignments.mark_handled(
            msg.key.remote_jid,
            msg.key.participant,
            msg.key.id,
            by=self.instance,
            ttl=self.handled_ttl,
        )

    async def accept(self, upsert: MessagesUpsert) -> list[WAMessage]:
        """The messages of ``upsert`` this process is to handle, in order.

        ``from_me`` messages are judged for takeover and never handled; stubs (not yet
        decrypted; the retry carries the same id) and upserts of other ``types`` are
        skipped unmarked; so are chats an admin holds. Of the rest, those this process
        marks handled first.
        """
        won: list[WAMessage] = []
        for msg in upsert.messages:
            if not isinstance(msg, WAMessage):
                continue
            if msg.key.from_me:
                await self.observe(msg, upsert.type)
                continue
            if upsert.type not in self.types or msg.message is None:
                continue
            try:
                if await self.quiet_in(msg.key.remote_jid) is not None:
                    continue
                if await self.mark_handled(msg):
                    won.append(msg)
            except AssignmentError as exc:
                log.warning("skipping message %s in %s: %s", msg.key.id, msg.key.remote_jid, exc)
        return won

    def once(self, handler: UpsertHandler) -> Callable[[MessagesUpsert], Awaitable[None]]:
        """Decorate a ``messages.upsert`` handler so it sees only the messages it won.

        The handler gets a ``MessagesUpsert`` of the accepted messages (see ``accept``)
        and is not called when there are none. A ``ChatHeld`` it raises (an admin took
        the chat over meanwhile) is logged at INFO, not as an error.
        """

        @functools.wraps(handler)
        async def wrapper(upsert: MessagesUpsert) -> None:
            won = await self.accept(upsert)
            if not won:
                return
            try:
                result = handler(MessagesUpsert(messages=tuple(won), type=upsert.type))
                if inspect.isawaitable(result):
                    await result
            except ChatHeld as exc:
                log.info("reply withheld: %s", exc)

        return wrapper

    # ------------------------------------------------------------------ outgoing

    async def send(
        self,
        jid: str,
        content: Any,
        *,
        quoted: Any = None,
        force: bool = False,
        message_id: str | None = None,
    ) -> Any:
        """Send as the bot: refused (``ChatHeld``) while an admin holds the chat.

        The id is made (or taken from ``message_id``) and recorded in the backend before
        the send, so no process mistakes the echo for an admin. ``force`` sends anyway.
        """
        chat = check_name(jid, "chat")
        if not force:
            held = await self.quiet_in(chat)
            if held is not None:
                raise ChatHeld(held)
        own_user = self._own()[1]
        mid = check_name(message_id, "message id") if message_id else new_message_id(own_user)
        if not await self.assignments.record_sent(mid, by=self.instance, ttl=self.sent_ttl):
            raise AssignmentError(f"message id {mid} was already recorded as sent")
        return await self.sock.send_message(chat, content, message_id=mid, quoted=quoted)

    async def reply(self, msg: WAMessage, content: Any, *, force: bool = False) -> Any:
        """``send`` to the chat of ``msg``, quoting it."""
        return await self.send(msg.key.remote_jid, content, quoted=msg, force=force)

    # ------------------------------------------------------------------ by hand

    async def take_over(self, chat: str, admin: str, ttl: float | None = None) -> Claim:
        """Assign ``chat`` to ``admin`` now (as if they had written), for ``ttl`` seconds."""
        if check_name(admin, "admin") == self.name:
            raise AssignmentError(f"{admin!r} is the bot's name, not an admin")
        claim = await self.assignments.claim(
            await self.chat_of(chat), admin, self.takeover_ttl if ttl is None else ttl, force=True
        )
        if claim is None:  # a forced claim always succeeds
            raise AssignmentError(f"could not assign {chat} to {admin!r}")
        return claim

    async def hand_back(self, chat: str) -> bool:
        """End an admin's hold on ``chat`` so the bot answers again; False if none."""
        held = await self.quiet_in(chat)
        if held is None:
            return False
        return await self.assignments.release(held.chat, held.handler, token=held.token)
