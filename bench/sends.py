"""What a ``NodeConnection.send`` costs the sender's CPU, against a server in another process.

    python bench/sends.py [--count 20000] [--modes seq,idle,idle2]

The server (``accept_server`` on a websockets server) runs in a child process, reads
every node and answers ``<sync/>`` with ``<synced/>``, so this process's CPU time
(``time.process_time``) is the sender's alone. Modes:

- ``seq``: ``count`` receipts sent one after another, the reader busy: µs per send;
- ``idle``: ``count / 20`` rounds of one ``<sync/>`` and its answer, each send waking an
  idle peer: µs per round;
- ``idle2``: the same with a receipt sent in the same turn as the ``<sync/>``: two writes
  per round, or one if a change to ``send`` joins a turn's writes (the difference to
  ``idle2`` before it is what a write to a woken peer costs).

The machine's other work moves these figures by tens of percent: alternate old and new
code several times and compare medians (``docs/performance.md``, issue 19).
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/signal.py shadows the standard library's ``signal``: take bench/ off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import time  # noqa: E402

from wamd.binary import Node  # noqa: E402
from wamd.crypto import generate_keypair  # noqa: E402
from wamd.noise import CertificateAuthority  # noqa: E402
from wamd.transport import NodeConnection, accept_server, connect_client  # noqa: E402

RECEIPT = Node("receipt", {"id": "3EB0ABCDEF0123456789", "to": "15550002222@s.whatsapp.net"})


async def server_child() -> None:
    from websockets.asyncio.server import ServerConnection, serve

    authority = CertificateAuthority.generate()
    static = generate_keypair()
    chain = authority.issue(static.public)

    async def handler(ws: ServerConnection) -> None:
        conn, _ = await accept_server(ws, static=static, certificate=chain)
        try:
            while True:
                if (await conn.receive()).tag == "sync":
                    await conn.send(Node("synced"))
        except Exception:
            return  # the client went away

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(port, authority.root_public_key.hex(), flush=True)
        await asyncio.to_thread(sys.stdin.readline)


async def sync(conn: NodeConnection) -> None:
    await conn.send(Node("sync"))
    answer = await conn.receive()
    if answer.tag != "synced":
        raise RuntimeError(f"unexpected <{answer.tag}>")


async def measure(count: int, modes: list[str]) -> dict[str, float]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--server-child",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        port, root = (await proc.stdout.readline()).decode().split()
        conn = await connect_client(
            f"ws://127.0.0.1:{port}/",
            noise_key=generate_keypair(),
            client_payload=b"bench",
            trusted_root=bytes.fromhex(root),
            origin="http://127.0.0.1",
        )
        await sync(conn)
        out: dict[str, float] = {}
        for mode in modes:
            rounds = count if mode == "seq" else max(count // 20, 1)
            cpu = time.process_time()
            for _ in range(rounds):
                if mode == "seq":
                    await conn.send(RECEIPT)
                elif mode == "idle":
                    await sync(conn)
                elif mode == "idle2":
                    await asyncio.gather(conn.send(RECEIPT), conn.send(Node("sync")))
                    await conn.receive()
                else:
                    raise SystemExit(f"unknown mode {mode!r}")
            if mode == "seq":
                await sync(conn)  # all of them read
            out[mode] = (time.process_time() - cpu) / rounds * 1e6
        await conn.close()
        return out
    finally:
        proc.stdin.write(b"quit\n")
        await proc.stdin.drain()
        await proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--modes", default="seq,idle,idle2")
    parser.add_argument("--server-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.server_child:
        asyncio.run(server_child())
        return
    results = asyncio.run(measure(args.count, args.modes.split(",")))
    units = {"seq": "µs per send", "idle": "µs per round", "idle2": "µs per round"}
    for mode, value in results.items():
        print(f"{mode:6} {value:8.1f} {units[mode]}")


if __name__ == "__main__":
    main()
