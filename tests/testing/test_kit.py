"""wamd.testing against a real sim on 127.0.0.1: linking, the inbox, settle, recording,
the raw companion, phones' arrivals and the replay seed."""

from __future__ import annotations

import asyncio

import pytest

from wamd.binary import Node
from wamd.client import WASocket
from wamd.errors import ConnectionClosed, DisconnectReason
from wamd.events import MessagesUpsert
from wamd.messaging.types import MessageReaction, MessageUpdate, WAMessage
from wamd.sim import SimPhone, SimServer
from wamd.testing import (
    Inbox,
    NothingArrived,
    UnexpectedArrival,
    link,
    linked,
    new_auth_state,
    pair_companion,
    record_sends,
    settle,
    sim_server,
    wait_received,
)


def echo_bot(sock: WASocket, work_turns: int = 0) -> None:
    """Echoes texts; ``work_turns`` loop turns of other work first (a database call...)."""

    async def echo(update: MessagesUpsert) -> None:
        for message in update.messages:
            if not message.key.from_me and message.text:
                for _ in range(work_turns):
                    await asyncio.sleep(0)
                await sock.send_message(message.key.remote_jid, {"text": message.text})

    sock.ev.on("messages.upsert", echo)


def two_phones(sim: SimServer) -> tuple[SimPhone, SimPhone]:
    return sim.add_phone("15550001111", "Bot"), sim.add_phone("15550002222", "Alice")


async def test_next_takes_in_order_and_wait_for_also_sees_what_came_before() -> None:
    async with sim_server() as sim:
        bot_phone, alice = two_phones(sim)
        async with linked(sim, bot_phone) as sock:
            inbox = Inbox(sock)
            first = await alice.send_text(bot_phone.jid, "one")
            await alice.send_text(bot_phone.jid, "two")
            await settle(sim, sock)  # both are in the inbox now
            assert [m.text for m in inbox.messages] == ["one", "two"]
            assert not inbox.empty()
            got: WAMessage = await inbox.next()
            assert got.text == "one" and got.key.id == first
            assert (await inbox.next()).text == "two"
            assert inbox.empty()
            again: WAMessage = await inbox.wait_for(lambda m: m.key.id == first)
            assert again is got  # taken already, still found
            assert inbox.kinds == ["notify", "notify"]
            inbox.assert_empty()


async def test_a_wait_that_runs_out_fails_naming_what_arrived() -> None:
    async with sim_server() as sim:
        bot_phone, alice = two_phones(sim)
        async with linked(sim, bot_phone) as sock:
            inbox = Inbox(sock)
            await alice.send_text(bot_phone.jid, "only this")
            await settle(sim, sock)
            with pytest.raises(NothingArrived) as err:
                await inbox.wait_for(lambda m: m.text == "something else", timeout=0.05)
            assert isinstance(err.value, AssertionError) and isinstance(err.value, TimeoutError)
            assert "'messages.upsert'" in str(err.value) and "1 arrived" in str(err.value)
            assert "'only this'" in str(err.value)
            with pytest.raises(UnexpectedArrival, match="1 unexpected arrival"):
                inbox.assert_empty()
            with pytest.raises(ValueError, match="does not collect 'call'"):
                await inbox.next("call")


async def test_batches_arrive_one_item_each_and_other_events_are_collected() -> None:
    async with sim_server() as sim:
        bot_phone, alice = two_phones(sim)
        async with linked(sim, bot_phone) as sock:
            inbox = Inbox(sock, "messages.upsert", "messages.reaction", "messages.update")
            sent = await sock.send_message(alice.jid, {"text": "rate me"})
            received = await wait_received(alice, lambda m: m.id == sent.key.id)
            await alice.react(received, "👍")
            reaction: MessageReaction = await inbox.next("messages.reaction")
            assert reaction.key.id == sent.key.id and reaction.text == "👍"
            update: MessageUpdate = await inbox.next(
                "messages.update", lambda u: u.key.id == sent.key.id
            )
            assert update.key.id == sent.key.id  # one item of the emitted list
            assert all(isinstance(u, MessageUpdate) for u in inbox.items("messages.update"))
            await settle(sim, sock)
            collected = len(inbox.arrivals)
            inbox.close()
            await alice.send_text(bot_phone.jid, "after close")
            await settle(sim, sock)
            assert len(inbox.arrivals) == collected  # not collected any more


async def test_settle_waits_for_an_answer_to_an_answer() -> None:
    async with sim_server() as sim:
        bot_phone, alice = two_phones(sim)
        async with linked(sim, bot_phone) as sock:
            echo_bot(sock, work_turns=200)
            before = len(alice.received)
            await alice.send_text(bot_phone.jid, "ping")
            # the bot handles it and answers; the sim routes the answer to Alice's phone
            await settle(sim, sock)
            assert [m.text for m in alice.received[before:]] == ["ping"]


async def test_settle_waits_for_handlers_the_sim_cannot_see() -> None:
    async with sim_server() as sim:
        bot_phone, alice = two_phones(sim)
        async with linked(sim, bot_phone) as sock:

            async def thank(reaction: MessageReaction) -> None:
                for _ in range(200):  # other work first (a database call...)
                    await asyncio.sleep(0)
                await sock.send_message(reaction.reaction_key.remote_jid, {"text": "thanks"})

            # messages.reaction is acknowledged to the server before its handlers run:
            # only the socket's idle() knows this one is still at work
            sock.ev.on("messages.reaction", thank)
            sent = await sock.send_message(alice.jid, {"text": "rate me"})
            rated = await wait_received(alice, lambda m: m.id == sent.key.id)
            before = len(alice.received)
            await alice.react(rated, "👍")
            await settle(sim, sock)
            assert [m.text for m in alice.received[before:]] == ["thanks"]


async def test_wait_received_sees_earlier_messages_and_fails_clearly() -> None:
    async with sim_server() as sim:
        bot_phone, alice = two_phones(sim)
        async with linked(sim, bot_phone) as sock:
            await sock.send_message(alice.jid, {"text": "early"})
            await settle(sim, sock)
            early = await wait_received(alice, lambda m: m.text == "early")
            assert early.sender.user == bot_phone.number
            assert await alice.next_message() is early  # nothing was consumed
            with pytest.raises(NothingArrived, match=r"Alice's phone .* 'early'"):
                await wait_received(alice, lambda m: m.text == "late", timeout=0.05)


async def test_record_sends_keeps_what_goes_out_until_stopped() -> None:
    async with sim_server() as sim:
        bot_phone, alice = two_phones(sim)
        sock = await link(sim, bot_phone)
        try:
            conn = sock.conn
            assert conn is not None
            sent = record_sends(sock)
            first = await sock.send_message(alice.jid, {"text": "recorded"})
            (message,) = sent.of("message")
            assert message.attrs["id"] == first.key.id and message.attrs["to"] == str(alice.jid)
            assert sent.of("message", id="nope") == []
            sent.stop()
            assert "send" not in vars(conn)  # the connection's own method again
            count = len(sent)
            await sock.send_message(alice.jid, {"text": "not recorded"})
            assert len(sent) == count
        finally:
            await sock.end()
        with pytest.raises(ConnectionClosed):
            record_sends(sock)  # ended: no connection to record


async def test_link_logs_in_a_paired_state_and_fails_fast_once_unlinked() -> None:
    async with sim_server() as sim:
        bot_phone, _ = two_phones(sim)
        state = new_auth_state()
        async with linked(sim, bot_phone, state) as sock:
            assert sock.user is not None and sock.user.id.startswith("15550001111:")
        scanned: list[str] = []
        real_scan = bot_phone.scan_qr

        async def scan(qr: str) -> object:
            scanned.append(qr)
            return await real_scan(qr)

        bot_phone.scan_qr = scan  # type: ignore[method-assign]
        async with linked(sim, bot_phone, state):
            pass
        assert scanned == []  # already paired: no QR
        await bot_phone.unlink(next(iter(bot_phone.companions.values())))
        with pytest.raises(ConnectionClosed) as closed:
            await link(sim, bot_phone, state)
        assert closed.value.status_code == DisconnectReason.LOGGED_OUT


async def test_raw_companion_next_pending_and_a_clear_timeout() -> None:
    async with sim_server(history_sync=None, app_state_keys=False) as sim:
        alice, bob = sim.add_phone("15550001111"), sim.add_phone("15550002222")
        a1 = await pair_companion(sim, alice)
        assert "creds" not in repr(a1) and str(a1.jid) in repr(a1)
        ping = await a1.query(Node("iq", {"type": "get", "xmlns": "w:p"}, [Node("ping")]))
        assert ping.attrs["type"] == "result"
        await bob.send_text(alice.jid, "to every device")
        message = await a1.next("message")
        assert message.attrs["from"].startswith("15550002222")
        await settle(sim, acked=False)  # a1 does not ack: only the sim's side
        assert [n.tag for n in a1.pending()] == []
        with pytest.raises(NothingArrived, match="no <receipt> reached"):
            await a1.next("receipt", timeout=0.05)
        await a1.close()


async def test_a_failure_in_the_block_carries_the_seed_to_replay() -> None:
    with pytest.raises(RuntimeError) as err:
        async with sim_server() as sim:
            seed = sim.seed
            raise RuntimeError("the test failed")
    assert err.value.__notes__ == [f"wamd.sim seed {seed}: replay with sim_server(seed={seed})"]
    async with sim_server(seed=7) as one, sim_server(seed=7) as two:
        assert one.root_public_key == two.root_public_key
        assert one.url != two.url  # each on a port of its own, on loopback
        assert one.url.startswith("ws://127.0.0.1:")
