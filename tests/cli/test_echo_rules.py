"""The echo bot's rules (``wamd.commands.echo``), shared by wamd echo, wamd demo and the example."""

from __future__ import annotations

from typing import Any

from wamd.commands.echo import describe_chat, echo_handler, preview, skip_reason
from wamd.events import MessagesUpsert
from wamd.messaging.types import MessageKey, WAMessage
from wamd.proto import e2e_pb2

ALICE = "15550002222@s.whatsapp.net"
GROUP = "120363000000000001@g.us"


def message(
    text: str | None = "hi",
    *,
    chat: str = ALICE,
    from_me: bool = False,
    stub: str | None = None,
    content: e2e_pb2.Message | None = None,
    mid: str = "3EB0AAAA",
    participant: str | None = None,
) -> WAMessage:
    body = content if content is not None else e2e_pb2.Message(conversation=text or "")
    return WAMessage(
        key=MessageKey(chat, from_me, mid, participant),
        message=None if stub else body,
        message_timestamp=1,
        push_name="Alice",
        stub_type=stub,
    )


def test_texts_in_chats_and_groups_are_echoed() -> None:
    assert skip_reason(message("hello")) is None
    assert skip_reason(message("hello", chat=GROUP, participant=ALICE)) is None
    caption = e2e_pb2.Message(imageMessage=e2e_pb2.ImageMessage(caption="look"))
    assert skip_reason(message(content=caption)) is None


def test_what_is_not_echoed() -> None:
    assert skip_reason(message(from_me=True)) == "our own message"
    assert skip_reason(message(chat="status@broadcast")) == "a status update"
    assert skip_reason(message(chat="1234567@broadcast")) == "a broadcast list"
    assert skip_reason(message(chat="1203@newsletter")) == "a channel"
    assert skip_reason(message(stub="CIPHERTEXT")) == "a stub (CIPHERTEXT)"
    assert skip_reason(message("")) == "no text"
    reaction = e2e_pb2.Message(reactionMessage=e2e_pb2.ReactionMessage(text="👍"))
    assert skip_reason(message(content=reaction)) == "no text"
    sticker = e2e_pb2.Message(stickerMessage=e2e_pb2.StickerMessage())
    assert skip_reason(message(content=sticker)) == "no text"


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], WAMessage | None]] = []

    async def send_message(
        self, jid: str, content: dict[str, Any], *, quoted: WAMessage | None = None
    ) -> WAMessage:
        self.sent.append((jid, content, quoted))
        return message(content["text"], chat=jid, from_me=True, mid=f"R{len(self.sent)}")


async def test_handler_replies_in_the_same_chat_quoting_and_once_per_message() -> None:
    sock = FakeSocket()
    seen: list[tuple[str, str | None]] = []
    handler = echo_handler(sock, on_message=lambda m, r: seen.append((m.key.id, r)))  # type: ignore[arg-type]
    in_group = message("to the group", chat=GROUP, participant=ALICE, mid="G1")
    batch = (message("one", mid="A1"), message(from_me=True, mid="A2"), in_group)
    await handler(MessagesUpsert(batch, "notify"))
    await handler(MessagesUpsert((message("one", mid="A1"),), "append"))  # a redelivery
    assert [(jid, content["text"], q.key.id if q else None) for jid, content, q in sock.sent] == [
        (ALICE, "one", "A1"),
        (GROUP, "to the group", "G1"),
    ]
    assert seen == [("A1", None), ("A2", "our own message"), ("G1", None), ("A1", "already echoed")]


def test_status_line_helpers() -> None:
    assert preview("a\nb   c") == '"a b c"'
    assert preview("x" * 100, 10) == '"xxxxxxxxx…"'
    assert describe_chat(message()) == f"Alice ({ALICE})"
    assert describe_chat(message(chat=GROUP, participant=ALICE)) == f"group {GROUP} (from Alice)"
