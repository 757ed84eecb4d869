"""A fake account: linked devices (sockets) that see each other's sends, and messages."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from wamd.events import EventEmitter, MessagesUpsert
from wamd.messaging.types import MessageKey, WAMessage
from wamd.proto import e2e_pb2

OWN_USER = "15550001111"
_ids = itertools.count(1)


def device(n: int) -> str:
    """The device JID of our account's device ``n`` (0 is the phone)."""
    return f"{OWN_USER}:{n}@s.whatsapp.net" if n else f"{OWN_USER}@s.whatsapp.net"


def customer(n: int) -> str:
    return f"1555{n:07d}@s.whatsapp.net"


def content(value: Any) -> e2e_pb2.Message:
    if isinstance(value, e2e_pb2.Message):
        return value
    if isinstance(value, dict):
        return e2e_pb2.Message(conversation=str(value["text"]))
    return e2e_pb2.Message(conversation=str(value))


def incoming(
    chat: str, text: str = "hello", *, mid: str | None = None, participant: str | None = None
) -> WAMessage:
    return WAMessage(
        key=MessageKey(chat, False, mid or f"IN{next(_ids):08d}", participant),
        message=content(text),
        message_timestamp=1_700_000_000,
        sender=participant or chat,
    )


def from_me(
    chat: str, text: Any = "an admin here", *, sender: str, mid: str | None = None
) -> WAMessage:
    return WAMessage(
        key=MessageKey(chat, True, mid or f"3EB0ADMIN{next(_ids):08d}"),
        message=content(text),
        message_timestamp=1_700_000_000,
        sender=sender,
    )


@dataclass
class FakeUser:
    id: str
    lid: str | None = None


class FakeSocket:
    """A linked device: ``ev``, ``user`` and ``send_message`` (sends reach the account)."""

    def __init__(self, account: FakeAccount | None, device_jid: str) -> None:
        self.account = account
        self.ev = EventEmitter()
        self.user: FakeUser | None = FakeUser(device_jid)
        self.sent: list[WAMessage] = []

    async def send_message(
        self, jid: str, content_: Any, *, message_id: str | None = None, quoted: Any = None
    ) -> WAMessage:
        assert self.user is not None
        msg = WAMessage(
            key=MessageKey(jid, True, message_id or f"3EB0RAW{next(_ids):08d}"),
            message=content(content_),
            message_timestamp=1_700_000_000,
            sender=self.user.id,
        )
        self.sent.append(msg)
        if self.account is not None:
            self.account.echo(self, msg)
        return msg

    def deliver(self, *msgs: WAMessage, type: str = "notify") -> None:
        self.ev.emit("messages.upsert", MessagesUpsert(messages=tuple(msgs), type=type))  # type: ignore[arg-type]


class FakeAccount:
    """Devices of one account: what one sends reaches the others as ``from_me``."""

    def __init__(self) -> None:
        self.sockets: list[FakeSocket] = []

    def link(self, n: int) -> FakeSocket:
        sock = FakeSocket(self, device(n))
        self.sockets.append(sock)
        return sock

    def echo(self, sender: FakeSocket, msg: WAMessage) -> None:
        for sock in self.sockets:
            if sock is not sender:
                sock.deliver(msg)

    def deliver(self, *msgs: WAMessage, type: str = "notify") -> None:
        for sock in self.sockets:
            sock.deliver(*msgs, type=type)

    async def drain(self) -> None:
        """Wait for every handler, including those of echoes sent while waiting."""
        while True:
            before = sum(len(s.sent) for s in self.sockets)
            for sock in self.sockets:
                await sock.ev.drain()
            if sum(len(s.sent) for s in self.sockets) == before:
                return
