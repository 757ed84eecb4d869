"""The sim as a fault injector (``sim.faults``): each fault does what it says, seeded."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import pytest

from tests.sim.raw import WAIT, RawCompanion, pair_companion
from wamd.binary import Node
from wamd.errors import ProtocolError
from wamd.sim import SimPhone, SimServer
from wamd.sim.faults import FaultRule


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with SimServer(history_sync=None, app_state_keys=False) as server:
        yield server


async def linked(sim: SimServer) -> tuple[SimPhone, SimPhone, RawCompanion]:
    alice = sim.add_phone("15550001111", "Alice")
    bob = sim.add_phone("15550002222", "Bob")
    a1 = await pair_companion(sim, alice, login=False)
    a1.auto_ack = True
    await a1.login()
    await sim.settle()
    drain(a1)
    return alice, bob, a1


def drain(companion: RawCompanion, tag: str | None = None) -> list[Node]:
    out = []
    while not companion.inbox.empty():
        node = companion.inbox.get_nowait()
        if tag is None or node.tag == tag:
            out.append(node)
    return out


async def test_a_dropped_message_is_not_seen_and_comes_again_at_the_next_login(
    sim: SimServer,
) -> None:
    alice, bob, a1 = await linked(sim)
    rule = sim.faults.drop(tags=["message"], count=1)
    lost = await bob.send_text(alice.jid, "lost on the wire")
    await sim.settle()
    assert drain(a1, "message") == [] and rule.fired == 1
    assert any(key[1] == lost for key in a1.device.outbox)  # the server still holds it
    kept = await bob.send_text(alice.jid, "the rule is spent")
    assert (await a1.next("message")).attrs["id"] == kept
    await sim.settle()
    assert drain(a1, "message") == []
    await a1.close()
    login = await a1.login()
    assert [n.attrs["id"] for n in login.offline if n.tag == "message"] == [lost]


async def test_duplicate_delay_and_reorder(sim: SimServer) -> None:
    alice, bob, a1 = await linked(sim)
    sim.faults.duplicate(tags=["message"], count=1)
    twice = await bob.send_text(alice.jid, "twice")
    await sim.settle(acked=True)
    assert [n.attrs["id"] for n in drain(a1, "message")] == [twice, twice]

    sim.faults.delay(0.2, tags=["message"], count=1)
    late = await bob.send_text(alice.jid, "late")
    early = await bob.send_text(alice.jid, "early")
    await sim.settle(acked=True)  # waits for the delayed one too
    assert [n.attrs["id"] for n in drain(a1, "message")] == [early, late]

    sim.faults.reorder(tags=["message"], count=1)
    first = await bob.send_text(alice.jid, "first")
    second = await bob.send_text(alice.jid, "second")
    await sim.settle(acked=True)
    assert [n.attrs["id"] for n in drain(a1, "message")] == [second, first]

    sim.faults.reorder(tags=["message"], count=1, seconds=0.05)
    alone = await bob.send_text(alice.jid, "nothing follows")
    await sim.settle(acked=True)  # a held stanza goes after its wait
    assert [n.attrs["id"] for n in drain(a1, "message")] == [alone]


async def test_lost_receipts_and_pings(sim: SimServer) -> None:
    alice, bob, a1 = await linked(sim)
    a1.auto_ack = False
    sim.faults.drop(tags=["receipt"], direction="in", count=1)
    message_id = await bob.send_text(alice.jid, "hi")
    message = await a1.next("message")
    await a1.send(Node("receipt", {"id": message_id, "to": message.attrs["from"]}))
    await sim.settle()
    assert any(key[1] == message_id for key in a1.device.outbox)  # never confirmed
    assert not [r for r in bob.receipts if r.id == message_id and r.sender.device == 1]
    sim.faults.lose_pings(count=1)
    ping = Node("iq", {"id": "ping-1", "type": "get", "xmlns": "w:p", "to": "s.whatsapp.net"})
    await a1.send(ping)
    await sim.settle()
    assert drain(a1, "iq") == []  # unanswered
    pong = await a1.query(Node("iq", {"type": "get", "xmlns": "w:p"}, [Node("ping")]))
    assert pong.attrs["type"] == "result"  # the rule is spent


@pytest.mark.parametrize(
    ("code", "shape"),
    [(515, {"code": "515"}), (503, {"code": "503"}), (440, {})],
)
async def test_forced_stream_errors(sim: SimServer, code: int, shape: dict[str, str]) -> None:
    _, _, a1 = await linked(sim)
    assert await sim.faults.stream_error(a1.device, code)
    error = await a1.next("stream:error")
    assert error.attrs == shape
    if code == 440:
        assert error.require_child("conflict").attrs["type"] == "replaced"
    assert a1.conn is not None
    await a1.conn.wait_closed()


async def test_a_dropped_connection_and_refused_logins(sim: SimServer) -> None:
    _, _, a1 = await linked(sim)
    assert a1.conn is not None
    assert await sim.faults.disconnect(a1.device)
    await a1.conn.wait_closed()
    assert not await sim.faults.disconnect(a1.device)  # nothing left to drop
    sim.faults.refuse_logins(count=1)
    with pytest.raises(ProtocolError, match="'reason': '503'"):
        await a1.login()  # <failure reason="503">, not <success>
    login = await a1.login()  # the refusal is spent
    assert login.success.tag == "success"


async def test_bad_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="probability"):
        FaultRule("drop", probability=1.5)
    with pytest.raises(ValueError, match="one of"):
        FaultRule("delay", direction="in")
    with pytest.raises(ValueError, match="seconds"):
        FaultRule("delay", seconds=-1)


async def test_faults_replay_with_the_seed() -> None:
    async def run(seed: int) -> list[str]:
        async with SimServer(
            rng=random.Random(seed), history_sync=None, app_state_keys=False
        ) as sim:
            alice, bob, a1 = await linked(sim)
            sim.faults.drop(0.5, tags=["message"])
            for n in range(12):
                await bob.send_text(alice.jid, f"message {n}")
            await sim.settle()
            return [n.attrs["id"] for n in drain(a1, "message")]

    one = await run(11)
    assert 0 < len(one) < 12  # some lost, some not
    assert await run(11) == one


async def test_rules_that_end_the_connection_keep_the_stanza_for_the_next_login(
    sim: SimServer,
) -> None:
    alice, bob, a1 = await linked(sim)
    sim.faults.disconnects(1.0, tags=["message"], count=1)
    first = await bob.send_text(alice.jid, "the link fails instead")
    assert a1.conn is not None
    await asyncio.wait_for(a1.conn.wait_closed(), WAIT)  # bounded: a regression fails
    assert drain(a1, "message") == []
    login = await a1.login()
    assert [n.attrs["id"] for n in login.offline if n.tag == "message"] == [first]
    sim.faults.stream_errors(1.0, 503, tags=["message"], count=1)
    second = await bob.send_text(alice.jid, "the server is unavailable instead")
    error = await a1.next("stream:error")
    assert error.attrs == {"code": "503"}
    login = await a1.login()
    assert second in [n.attrs["id"] for n in login.offline if n.tag == "message"]
    with pytest.raises(ValueError, match="code"):
        FaultRule("stream-error", code=42)
