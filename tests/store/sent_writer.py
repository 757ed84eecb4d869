"""A writer for the sent-copy crash test: sends (as the client does) until killed.

    python sent_writer.py multifile|sqlite|postgres PATH  (a DSN for postgres)

Each round i keeps the sent copy of message ``m<i>`` (``SentMessages.remember``, as
``send_message`` does first), then runs the send's encryption as one plain transaction
(a session key set to i), then prints ``sent i``: the message would be on the wire now,
so its copy must survive the kill that may follow.
"""

from __future__ import annotations

import asyncio
import sys

from wamd.store.views import SentMessages

try:
    from .openers import open_auth
except ImportError:  # run as a script
    from openers import open_auth  # type: ignore[no-redef]

SESSION = "15550000001.1"
CHAT = "15550000001@s.whatsapp.net"


async def main(kind: str, path: str) -> None:
    state, _ = await open_auth(kind, path)
    sent = SentMessages(state.keys)
    current = (await state.keys.get("session", [SESSION])).get(SESSION)
    i = int.from_bytes(current[:4], "big") if current else 0
    print("ready", flush=True)
    while True:
        i += 1
        await sent.remember(f"m{i}", CHAT, b"message %d" % i, i)
        async with state.keys.transaction():
            await state.keys.set({"session": {SESSION: i.to_bytes(4, "big") * 100}})
        print(f"sent {i}", flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
