"""``SimServer.settle()``, ``SimServer(rng=...)`` and the shared state: waiting for an idle
sim, replaying a run, the companion limit."""

from __future__ import annotations

import asyncio
import random

import pytest

from tests.sim.raw import pair_companion
from wamd.binary import Node
from wamd.errors import SimError
from wamd.signal.prekeys import upload_children
from wamd.sim import MAX_COMPANIONS, SimDevice, SimServer, rand


async def test_settle_returns_after_the_welcome_is_delivered_and_acknowledged() -> None:
    async with SimServer() as sim:
        alice = sim.add_phone("15550001111", "Alice")
        companion = await pair_companion(sim, alice, login=False)
        companion.auto_ack = True
        await companion.login()  # the sim spawns the welcome: key share, then history
        await sim.settle(acked=True)
        got = []
        while not companion.inbox.empty():
            got.append(companion.inbox.get_nowait())
        peer = [n for n in got if n.tag == "message" and n.attrs.get("category") == "peer"]
        assert len(peer) == 2  # both were sent and acknowledged before settle returned
        assert not companion.device.outbox and sim.activity.idle


async def test_settle_sees_a_frame_the_client_has_just_written() -> None:
    async with SimServer(history_sync=None, app_state_keys=False) as sim:
        alice = sim.add_phone("15550001111", "Alice")
        companion = await pair_companion(sim, alice)
        await sim.settle()
        creds = companion.creds
        keys = rand.prekeys(random.Random(1), 1, 3)
        children = upload_children(
            creds.registration_id, creds.signed_identity_key.public, keys, creds.signed_pre_key
        )
        # sent, not awaited as a query: only the sim's side decides when it is handled
        await companion.send(
            Node("iq", {"id": "up-1", "type": "set", "xmlns": "encrypt"}, children)
        )
        await sim.settle()
        assert sorted(companion.device.prekeys) == [1, 2, 3]


async def test_settle_times_out_naming_what_still_runs() -> None:
    async with SimServer() as sim:
        stuck = asyncio.Event()
        sim.state.spawn(stuck.wait(), "a stuck task")
        with pytest.raises(TimeoutError, match="a stuck task"):
            await sim.settle(timeout=0.2)
        stuck.set()
        await sim.settle()


def _fingerprint(sim: SimServer) -> tuple[object, ...]:
    phone = sim.add_phone("15550001111")
    return (
        sim.root_public_key,
        sim.static.public,
        phone.lid_user,
        phone.account_key.public,
        phone.endpoint.registration_id,
        phone.endpoint.signed.key_pair.public,
    )


async def test_a_seeded_sim_makes_the_same_choices() -> None:
    one = _fingerprint(SimServer(rng=random.Random(7)))
    assert one == _fingerprint(SimServer(rng=random.Random(7)))
    assert one != _fingerprint(SimServer(rng=random.Random(8)))
    unseeded = SimServer()
    assert unseeded.seed is not None  # drawn at start, kept for a replay
    assert _fingerprint(unseeded) == _fingerprint(SimServer(rng=random.Random(unseeded.seed)))


async def test_a_seeded_sim_gives_the_same_ids_over_a_scripted_run() -> None:
    async def run(seed: int) -> tuple[str, str, list[str]]:
        async with SimServer(rng=random.Random(seed), history_sync=None) as sim:
            alice = sim.add_phone("15550001111", "Alice")
            bob = sim.add_phone("15550002222", "Bob")
            group = await alice.create_group("Team", [bob.jid])
            message_id = await alice.send_text(bob.jid, "hi")
            await sim.settle()
            return group.id, message_id, [n.attrs["id"] for n in bob.endpoint.notifications]

    assert await run(3) == await run(3)
    assert await run(3) != await run(4)


async def test_the_companion_limit_is_checked_in_one_place() -> None:
    async with SimServer() as sim:
        alice = sim.add_phone("15550001111")
        taken = [sim.state.allocate_companion(alice) for _ in range(MAX_COMPANIONS)]
        assert [a.device_id for a in taken] == [1, 2, 3, 4]  # reserved, not yet linked
        for allocation in taken:
            device = SimDevice(
                alice, allocation.jid, allocation.lid, b"", 0, 0, b"", b"", allocation.key_index
            )
            sim.state.register_companion(device)
        with pytest.raises(SimError, match="already has 4 linked devices"):
            sim.state.allocate_companion(alice)
        assert sim.state.allocate_companion(alice, respect_limit=False).device_id == 5
        alice.companions[1].unlinked = True  # a slot comes free
        assert sim.state.allocate_companion(alice).device_id == 6
