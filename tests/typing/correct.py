"""The correct twin of ``mistakes.py``: ``mypy --strict`` must accept it as it is.

Never run: ``test_mistakes.py`` type-checks it.
"""

from __future__ import annotations

from wamd import (
    ConnectionUpdate,
    MessagesUpsert,
    WAMessage,
    make_wa_socket,
    use_multi_file_auth_state,
)
from wamd.client.content import AnyMessageContent, KeyDict
from wamd.events import EventName
from wamd.messaging.types import MessageReaction


async def main() -> None:
    state, save_creds = await use_multi_file_auth_state("auth_info")
    sock = make_wa_socket(state, print_qr_in_terminal=True, connect_timeout=10.0)
    sock.ev.on("creds.update", save_creds)
    print(state.creds.registration_id)

    def on_connection(update: ConnectionUpdate) -> None:
        print(update.connection)

    async def on_messages(upsert: MessagesUpsert) -> None:
        for msg in upsert.messages:
            first: WAMessage = msg
            print(first.key.remote_jid, msg.text)
            await sock.send_message(msg.key.remote_jid, {"text": "hi"})
            await sock.send_message(
                msg.key.remote_jid, {"text": "hi", "mentions": ["1@s.whatsapp.net"]}
            )
            await sock.send_message(msg.key.remote_jid, {"react": {"key": msg.key, "text": "+"}})
            await sock.send_message(msg.key.remote_jid, {"text": "fixed", "edit": msg.key})
            await sock.send_message(msg.key.remote_jid, {"delete": msg.key})
            await sock.send_message(msg.key.remote_jid, {"disappearing_messages_in_chat": 86400})
            await sock.send_message(msg.key.remote_jid, {"text": "hi"}, quoted=msg)
            key: KeyDict = {"remote_jid": msg.key.remote_jid, "id": msg.key.id}
            content: AnyMessageContent = {"delete": key}
            await sock.send_message(msg.key.remote_jid, content)

    def on_reaction(reaction: MessageReaction) -> None:
        print(reaction.text)

    def on_anything(payload: object) -> None:
        print(payload)

    sock.ev.on("connection.update", on_connection)
    sock.ev.on("messages.upsert", on_messages)
    sock.ev.once("messages.reaction", on_reaction)
    sock.ev.on("messages.update", lambda updates: print([u.status for u in updates]))
    sock.ev.emit("connection.update", ConnectionUpdate(connection="open"))
    names: tuple[EventName, ...] = ("messages.upsert", "call")
    for name in names:
        sock.ev.on(name, on_anything)
        sock.ev.off(name, on_anything)

    @sock.ev.on("messages.upsert")
    async def right(upsert: MessagesUpsert) -> None:
        print(upsert.type)

    update = await sock.ev.wait_for("connection.update", timeout=30)
    print(update.connection, update.last_disconnect)
    opened = await sock.ev.wait_for("connection.update", lambda u: u.connection == "open")
    print(opened.is_new_login)
    await sock.connect()
