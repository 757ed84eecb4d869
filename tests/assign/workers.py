"""Worker processes for the cross-process tests: ``python -m tests.assign.workers MODE ...``.

- ``race KIND TARGET PREFIX NAME N``: wait for a line on stdin, then claim chats 0..N-1 (in
  a random order) and mark one message in each; print ``{"won": [...], "marked": [...]}``.
- ``hold KIND TARGET PREFIX NAME N TTL``: claim and mark chats 0..N-1 with TTL seconds,
  print ``{"tokens": {...}}`` and sleep until killed.
- ``churn KIND TARGET PREFIX NAME``: claim, renew, transfer and release forever (to be killed
  mid-write).
- ``desk KIND TARGET PREFIX ME OTHER SCRIPT OUTDIR``: one bot process of a two-bot account
  (see ``test_processes.py``); print a summary.
- ``simbot KIND TARGET PREFIX NAME URL ROOT_KEY ADMINS``: a real ``WASocket`` bot linked to
  a ``wamd.sim`` account: print ``{"qr": ...}``, then ``open`` once the phone scanned it;
  answer through a ``Desk`` until a line on stdin, then print a summary.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from wamd.assign import AssignmentBackend, Desk, SQLiteAssignments
from wamd.events import MessagesUpsert
from wamd.messaging.types import MessageKey, WAMessage

from .fakes import content, device

PACE = 0.002  # seconds between two messages of the desk scenario


def make_backend(kind: str, target: str, prefix: str) -> AssignmentBackend:
    if kind == "sqlite":
        return SQLiteAssignments(target)
    from wamd.assign import RedisAssignments

    return RedisAssignments(target, prefix=prefix)


def chat_of(i: int) -> str:
    return f"1555{i:07d}@s.whatsapp.net"


async def race(backend: AssignmentBackend, name: str, n: int) -> None:
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # "go"
    order = list(range(n))
    random.shuffle(order)
    won, marked = [], []
    for i in order:
        if await backend.claim(chat_of(i), name, 60):
            won.append(i)
        if await backend.mark_handled(chat_of(i), None, "MSG", by=name):
            marked.append(i)
    print(json.dumps({"won": won, "marked": marked}), flush=True)


async def hold(backend: AssignmentBackend, name: str, n: int, ttl: float) -> None:
    tokens = {}
    for i in range(n):
        claim = await backend.claim(chat_of(i), name, ttl)
        assert claim is not None
        tokens[i] = claim.token
        await backend.mark_handled(chat_of(i), None, "MSG", by=name)
    print(json.dumps({"tokens": tokens}), flush=True)
    await asyncio.sleep(3600)


async def churn(backend: AssignmentBackend, name: str) -> None:
    print("ready", flush=True)
    i = 0
    while True:
        chat = chat_of(i % 20)
        await backend.claim(chat, name, 30)
        await backend.renew(chat, name, 30)
        await backend.transfer(chat, f"{name}-2", 30)
        await backend.release(chat, f"{name}-2")
        await backend.mark_handled(chat, None, f"M{i}", by=name)
        i += 1


class FileSocket:
    """A linked device whose sends go to a JSON-lines file the other process reads."""

    def __init__(self, device_jid: str, out: Path) -> None:
        from wamd.events import EventEmitter

        from .fakes import FakeUser

        self.ev = EventEmitter()
        self.user = FakeUser(device_jid)
        self._fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    async def send_message(
        self, jid: str, content_: Any, *, message_id: str | None = None, quoted: Any = None
    ) -> None:
        line = {"chat": jid, "id": message_id, "text": content_["text"], "quoted": quoted.key.id}
        os.write(self._fd, (json.dumps(line) + "\n").encode())

    def deliver(self, msg: WAMessage) -> None:
        self.ev.emit("messages.upsert", MessagesUpsert(messages=(msg,), type="notify"))


class Tail:
    """New complete lines of a file another process appends to."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        return [json.loads(line) for line in data[:end].splitlines()]


async def desk_bot(
    backend: AssignmentBackend, me: int, other: int, script: Path, outdir: Path
) -> None:
    sock = FileSocket(device(me), outdir / f"sent-{me}.jsonl")
    fresh: list[str] = []
    desk = Desk(
        sock,
        backend,
        instance=f"bot-{me}",
        admins={device(3): "alice"},
        takeover_ttl=300,
        on_takeover=lambda claim, msg: fresh.append(claim.chat),
    )
    handled = 0

    @sock.ev.on("messages.upsert")
    @desk.once
    async def on_messages(upsert: MessagesUpsert) -> None:
        nonlocal handled
        for msg in upsert.messages:
            handled += 1
            await desk.reply(msg, {"text": f"re: {msg.text}"})

    echoes = Tail(outdir / f"sent-{other}.jsonl")

    def pump() -> None:
        for line in echoes.read():  # the other bot's replies reach us as device-sent messages
            key = MessageKey(line["chat"], True, line["id"])
            sock.deliver(WAMessage(key, content(line["text"]), 0, sender=device(other)))

    events = json.loads(await asyncio.to_thread(script.read_text))
    print("ready", flush=True)
    # "go START": the messages arrive at both bots at a steady pace from START (epoch
    # seconds), as they would from the server, so that either may see each one first
    start = float((await asyncio.to_thread(sys.stdin.readline)).split()[1])
    jitter = random.Random()
    for i, event in enumerate(events):
        pump()
        if event["t"] == "in":
            key = MessageKey(event["chat"], False, event["id"])
            sock.deliver(WAMessage(key, content(event["text"]), 0, sender=event["chat"]))
        else:
            key = MessageKey(event["chat"], True, event["id"])
            sock.deliver(WAMessage(key, content(event["text"]), 0, sender=event["sender"]))
        if i % 5 == 0:
            await sock.ev.drain()
        # and each process is sometimes a little late (scheduling, GC): neither leads for good
        late = jitter.uniform(0, 2 * PACE) if jitter.random() < 0.5 else 0.0
        await asyncio.sleep(max(0.0, start + (i + 1) * PACE + late - time.time()))
    await sock.ev.drain()
    (outdir / f"done-{me}").touch()
    while not (outdir / f"done-{other}").exists():
        pump()
        await sock.ev.drain()
        await asyncio.sleep(0.01)
    pump()
    await sock.ev.drain()
    print(json.dumps({"handled": handled, "fresh_takeovers": fresh}), flush=True)


async def sim_bot(
    backend: AssignmentBackend, name: str, url: str, root_key: str, admins: dict[str, str]
) -> None:
    from wamd.client import make_wa_socket
    from wamd.store import AuthState, MemoryKeyStore, init_auth_creds

    state = AuthState(init_auth_creds(), MemoryKeyStore())
    sock = make_wa_socket(state, url=url, server_root_key=bytes.fromhex(root_key))
    desk = Desk(sock, backend, instance=name, admins=admins, takeover_ttl=300)
    handled = 0

    @sock.ev.on("messages.upsert")
    @desk.once
    async def on_messages(upsert: MessagesUpsert) -> None:
        nonlocal handled
        for msg in upsert.messages:
            handled += 1
            await desk.reply(msg, {"text": f"re: {msg.text}"})

    await sock.connect()
    update = await sock.ev.wait_for("connection.update", lambda u: u.qr is not None, timeout=30)
    opened = asyncio.ensure_future(
        sock.ev.wait_for("connection.update", lambda u: u.connection == "open", timeout=60)
    )
    print(json.dumps({"qr": update.qr}), flush=True)
    await opened
    print("open", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # "stop"
    await sock.ev.drain()
    print(json.dumps({"handled": handled}), flush=True)
    await sock.end()


async def main(argv: list[str]) -> None:
    mode, kind, target, prefix, *rest = argv
    backend = make_backend(kind, target, prefix)
    try:
        if mode == "race":
            await race(backend, rest[0], int(rest[1]))
        elif mode == "hold":
            await hold(backend, rest[0], int(rest[1]), float(rest[2]))
        elif mode == "churn":
            await churn(backend, rest[0])
        elif mode == "simbot":
            await sim_bot(backend, rest[0], rest[1], rest[2], json.loads(rest[3]))
        elif mode == "desk":
            await desk_bot(backend, int(rest[0]), int(rest[1]), Path(rest[2]), Path(rest[3]))
        else:
            raise SystemExit(f"unknown mode {mode}")
    finally:
        await backend.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
