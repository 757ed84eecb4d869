"""A bot process for the crash tests: ``crash_bot.py URL ROOT_HEX AUTH_DIR MODE``.

MODE ``kill-before-commit``: SIGKILL itself after decrypting the first message, inside
the store transaction (nothing is committed). MODE ``kill-after-commit``: SIGKILL
itself once the decrypted message and the Signal state are committed, before the event
is emitted. MODE ``kill-in-async-handler``: a coroutine handler is killed half-way through the
message (it prints only when it has finished). MODE ``kill-before-receipt``: SIGKILL
itself after the message was emitted and just before the delivery receipt. MODE
``run``: handle the offline backlog, then exit. Every mode prints each received text
as ``GOT <text>``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from wamd.client import make_wa_socket, receive
from wamd.events import MessagesUpsert
from wamd.store import use_multi_file_auth_state


async def main(url: str, root_hex: str, folder: str, mode: str) -> None:
    state, save_creds = await use_multi_file_auth_state(folder)
    if mode == "kill-before-commit":
        real = receive.open_enc

        async def open_then_die(*args: Any, **kwargs: Any) -> Any:
            await real(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)

        receive.open_enc = open_then_die  # type: ignore[assignment]
    elif mode == "kill-after-commit":

        def die_now(*args: Any, **kwargs: Any) -> None:
            os.kill(os.getpid(), signal.SIGKILL)

        receive.Receiver._emit_messages = die_now  # type: ignore[method-assign]
    elif mode == "kill-before-receipt":

        async def die(*args: Any, **kwargs: Any) -> None:
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)

        receive.Receiver._receipt = die  # type: ignore[method-assign]
    sock = make_wa_socket(state, url=url, server_root_key=bytes.fromhex(root_hex))
    sock.ev.on("creds.update", save_creds)
    done = asyncio.Event()

    def on_messages(update: MessagesUpsert) -> None:
        for message in update.messages:
            if message.text is not None:
                print("GOT", message.text, flush=True)
            elif message.stub_type:
                print("STUB", message.stub_type, flush=True)

    async def slow_handler(update: MessagesUpsert) -> None:
        asyncio.get_running_loop().call_later(0.1, os.kill, os.getpid(), signal.SIGKILL)
        await asyncio.sleep(5)
        on_messages(update)

    if mode == "kill-in-async-handler":
        sock.ev.on("messages.upsert", slow_handler)
    else:
        sock.ev.on("messages.upsert", on_messages)
    sock.ev.on(
        "connection.update",
        lambda u: done.set() if u.received_pending_notifications else None,
    )
    await sock.connect()
    try:
        await asyncio.wait_for(done.wait(), 30)
        await sock.idle()
    finally:
        await sock.end()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
