"""A load driver for the sim: many raw companions exchanging messages, checked end to end.

Used by ``bench/sim_load.py`` (200 devices, 10,000 messages) and by a small test.
Companions are provisioned (``SimServer.provision_companion``), log in over real
websockets on loopback and send opaque ``enc`` payloads (the server does not decrypt).
Each message goes to one companion of another account; the receiver answers with a
delivery receipt, the sender acknowledges the forwarded receipt. At the end every
message must have reached its device exactly once, every sender must have its server
ack and its delivery receipt, and every outbox must be empty (all acknowledged).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from wamd.binary import Node
from wamd.crypto import SignedKeyPair, generate_keypair
from wamd.noise.payload import login_payload
from wamd.sim.server import SimDevice, SimServer
from wamd.transport import NodeConnection, connect_client

__all__ = ["LoadResult", "run_load"]

ACK_TIMEOUT = 60.0  # seconds to wait for one server ack before the run counts as failed


@dataclass
class LoadResult:
    connections: int
    messages: int
    seconds: float
    delivered: int = 0
    duplicates: int = 0
    missing: int = 0
    acked: int = 0
    receipts: int = 0
    errors: list[str] = field(default_factory=list)
    outbox_left: int = 0

    @property
    def ok(self) -> bool:
        return (
            not self.errors
            and self.missing == 0
            and self.duplicates == 0
            and self.delivered == self.messages
            and self.acked == self.messages
            and self.receipts == self.messages
            and self.outbox_left == 0
        )

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


class _Client:
    def __init__(self, device: SimDevice, conn: NodeConnection) -> None:
        self.device = device
        self.conn = conn
        self.received: Counter[str] = Counter()
        self.receipts: set[str] = set()

    async def on_node(self, node: Node) -> None:
        if node.tag == "message":
            self.received[node.attrs.get("id", "")] += 1
            attrs = {"id": node.attrs.get("id", ""), "to": node.attrs.get("from", "")}
            await self.conn.send(Node("receipt", attrs))
        elif node.tag == "receipt":
            self.receipts.add(node.attrs.get("id", ""))
            ack = {"class": "receipt", "id": node.attrs.get("id", ""), "to": node.attrs["from"]}
            await self.conn.send(Node("ack", ack))


async def run_load(
    sim: SimServer,
    *,
    devices: int = 200,
    messages: int = 10_000,
    per_account: int = 2,
    window: int = 8,
    deadline: float = 600.0,
    seed: int = 1,
) -> LoadResult:
    """Run the load on a started ``sim``; bounded by ``deadline`` seconds overall."""
    rng = random.Random(seed)
    accounts = max(2, -(-devices // per_account))
    base = 15_550_000_000 + rng.randrange(10_000) * 1_000
    phones = [sim.add_phone(str(base + i), f"load{i}") for i in range(accounts)]
    provisioned: list[SimDevice] = []
    for n in range(devices):
        identity = generate_keypair()
        made = sim.provision_companion(
            phones[n % accounts],
            identity,
            registration_id=rng.randrange(1, 16380),
            signed_prekey=SignedKeyPair.generate(identity, 1),
        )
        provisioned.append(made.device)

    clients: list[_Client] = []
    for device in provisioned:
        conn = await connect_client(
            sim.url,
            noise_key=generate_keypair(),
            client_payload=login_payload(device.phone.number, device.jid.device),
            trusted_root=sim.root_public_key,
            origin="http://127.0.0.1",
        )
        while (await conn.receive()).tag != "ib":
            pass  # success, then <ib><offline/></ib>: nothing is queued for a new device
        client = _Client(device, conn)
        conn.start(client.on_node)
        clients.append(client)

    # the plan: message k from a random client to a companion of another account
    plan: list[list[tuple[str, _Client]]] = [[] for _ in clients]
    for k in range(messages):
        sender = k % len(clients)
        target = rng.randrange(len(clients))
        while clients[target].device.phone is clients[sender].device.phone:
            target = rng.randrange(len(clients))
        plan[sender].append((f"LOAD{k:08d}{os.urandom(2).hex().upper()}", clients[target]))

    result = LoadResult(len(clients), messages, 0.0)

    async def send_all(client: _Client, items: list[tuple[str, _Client]]) -> None:
        gate = asyncio.Semaphore(window)

        async def one(message_id: str, target: _Client) -> None:
            async with gate:
                to = target.device.jid
                node = Node(
                    "message",
                    {"id": message_id, "to": str(to.to_non_ad()), "type": "text"},
                    [
                        Node(
                            "participants",
                            {},
                            [
                                Node(
                                    "to",
                                    {"jid": str(to)},
                                    [Node("enc", {"v": "2", "type": "msg"}, os.urandom(48))],
                                )
                            ],
                        )
                    ],
                )
                ack = await client.conn.request(node, timeout=ACK_TIMEOUT)
                if ack.tag == "ack" and "error" not in ack.attrs:
                    result.acked += 1
                else:
                    result.errors.append(f"{message_id}: {ack.attrs}")

        await asyncio.gather(*(one(m, t) for m, t in items))

    started = time.perf_counter()
    try:
        async with asyncio.timeout(deadline):
            await asyncio.gather(
                *(send_all(c, items) for c, items in zip(clients, plan, strict=True))
            )
            # wait for the deliveries and the receipts to settle
            expected = {m: t for items in plan for m, t in items}
            senders = {m: c for c, items in zip(clients, plan, strict=True) for m, _ in items}
            while True:
                delivered = sum(1 for m, t in expected.items() if t.received[m])
                receipts = sum(1 for m, c in senders.items() if m in c.receipts)
                if delivered == messages and receipts == messages:
                    break
                await asyncio.sleep(0.05)
    except TimeoutError:
        result.errors.append(f"did not finish within {deadline:g} s")
    except Exception as exc:  # a lost connection or a refused request ends the run
        result.errors.append(f"{type(exc).__name__}: {exc}")
    result.seconds = time.perf_counter() - started

    expected = {m: t for items in plan for m, t in items}
    senders = {m: c for c, items in zip(clients, plan, strict=True) for m, _ in items}
    result.delivered = sum(1 for m, t in expected.items() if t.received[m] >= 1)
    result.missing = messages - result.delivered
    result.duplicates = sum(max(0, t.received[m] - 1) for m, t in expected.items())
    stray = sum(sum(c.received.values()) for c in clients) - sum(
        t.received[m] for m, t in expected.items()
    )
    if stray:
        result.errors.append(f"{stray} messages reached a device they were not sent to")
    result.receipts = sum(1 for m, c in senders.items() if m in c.receipts)
    for _ in range(200):  # the last acks may still be in flight: give them up to ~10 s
        result.outbox_left = sum(len(c.device.outbox) for c in clients)
        if result.outbox_left == 0:
            break
        await asyncio.sleep(0.05)
    for client in clients:
        await client.conn.close()
    return result
