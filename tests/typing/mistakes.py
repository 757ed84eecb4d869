"""A bot with deliberate mistakes: ``mypy --strict`` must report each marked line.

Never run: ``test_mistakes.py`` type-checks it (and its correct twin, ``correct.py``).
Every line with a mistake ends in a ``MISTAKE`` comment saying what it is; a
``MISTAKE-ONCE-TYPED`` comment marks one that only a typed ``use_*_auth_state`` catches.
No other line may have an error.
"""

from __future__ import annotations

from wamd import (
    ConnectionUpdate,
    MessagesUpsert,
    make_wa_socket,
    use_multi_file_auth_state,
)
from wamd.messaging.types import MessageReaction


async def main() -> None:
    state, save_creds = await use_multi_file_auth_state("auth_info")
    sock = make_wa_socket(state, print_qr_in_termnal=True)  # MISTAKE: misspelt option
    sock.ev.on("creds.update", save_creds)
    print(state.creds.registraton_id)  # MISTAKE-ONCE-TYPED: misspelt field of the auth state
    make_wa_socket(save_creds)  # MISTAKE: the save function where the state belongs

    def on_connection(update: ConnectionUpdate) -> None:
        print(update.connection)

    async def on_messages(upsert: MessagesUpsert) -> None:
        for msg in upsert.mesages:  # MISTAKE: misspelt payload field
            print(msg)
        for msg in upsert.messages:
            print(msg.key.remote_id)  # MISTAKE: misspelt field of a WAMessage's key
            jid, send = msg.key.remote_jid, sock.send_message
            await send(jid, {"txt": "hi"})  # MISTAKE: misspelt content key
            await send(jid, "hi")  # MISTAKE: wrong type passed to send_message (a str)
            await send(jid, {"text": 42})  # MISTAKE: the text is not a str
            await send(jid, {"react": {"key": msg.key, "txt": "+"}})  # MISTAKE: reaction's key
            await send(jid, {"text": "hi"}, quote=msg)  # MISTAKE: quote= for quoted=

    def on_reaction(reaction: MessageReaction) -> None:
        print(reaction.text)

    sock.ev.on("messages.upsert", on_connection)  # MISTAKE: handler for the wrong event
    sock.ev.on("message.upsert", on_messages)  # MISTAKE: misspelt event name
    sock.ev.once("messages.reaction", on_messages)  # MISTAKE: once with the wrong handler
    sock.ev.on("messages.reaction", on_reaction)
    sock.ev.emit("messages.upsert", ConnectionUpdate())  # MISTAKE: emit with the wrong payload

    @sock.ev.on("connection.update")  # MISTAKE: decorator on a handler for another event
    async def wrong(upsert: MessagesUpsert) -> None:
        print(upsert.type)

    update = await sock.ev.wait_for("connection.update", timeout=30)
    print(update.status)  # MISTAKE: a field wait_for's result does not have
    await sock.ev.wait_for("connection.update", lambda u: u.conection)  # MISTAKE: predicate
    await sock.connect()
