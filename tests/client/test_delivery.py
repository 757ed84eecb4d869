"""Delivery guarantees: duplicates, undecryptable messages, crashes, ordering."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.client.conftest import Inbox, record_sends, spy
from tests.client.stores import every_store, link
from wamd.binary import JID, Node
from wamd.client.receive import _buffer_key
from wamd.sim import SimServer
from wamd.store import use_multi_file_auth_state
from wamd.testing import settle

CRASH_BOT = Path(__file__).with_name("crash_bot.py")

# every test here runs on each auth store: bugs have hidden behind the memory one
pytestmark = pytest.mark.usefixtures(every_store.__name__)


@pytest.fixture
async def quiet_sim() -> AsyncIterator[SimServer]:
    """A sim whose phones send a new companion no app-state key and no history."""
    async with SimServer(history_sync=None, app_state_keys=False) as server:
        yield server


ROOT = Path(__file__).parents[2]


async def test_a_redelivered_message_is_emitted_once(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    inbox = Inbox(sock)
    real = sock.receiver.on_message
    stanzas = spy(sock.receiver, "on_message")
    for text in ("first", "second"):  # the second is a "msg" on the established session
        mid = await alice.send_text(bot_phone.jid, text)
        await inbox.wait(lambda m, mid=mid: m.key.id == mid)
    await sock.idle()
    for node in stanzas:  # the server sends both again (as after a lost receipt)
        await real(node)
    await sock.idle()
    assert [m.text for m in inbox.messages] == ["first", "second"]
    await sock.end()


async def test_undecryptable_message_gets_a_retry_receipt_and_is_recovered(
    sim: SimServer,
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    inbox = Inbox(sock)
    first = await alice.send_text(bot_phone.jid, "establish")
    await inbox.wait(lambda m: m.key.id == first)
    # lose our session with Alice's phone: her next "msg" cannot be decrypted
    await sock.signal.delete_session(JID(alice.lid_user, "lid", 0))
    sent = record_sends(sock)
    lost = await alice.send_text(bot_phone.jid, "can you read me?")
    stub = await inbox.wait(lambda m: m.key.id == lost and m.stub_type == "CIPHERTEXT")
    assert stub.message is None
    recovered = await inbox.wait(lambda m: m.key.id == lost and m.message is not None)
    assert recovered.text == "can you read me?"
    retries = [n for n in sent if n.tag == "receipt" and n.attrs.get("type") == "retry"]
    assert len(retries) == 1
    retry = retries[0].require_child("retry")
    assert retry.attrs["id"] == lost and retry.attrs["count"] == "1" and retry.attrs["v"] == "1"
    assert len(retries[0].require_child("registration").content_bytes() or b"") == 4
    await sock.end()


async def test_a_burst_of_1000_messages_keeps_its_order(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    inbox = Inbox(sock)
    for n in range(1000):
        await alice.send_text(bot_phone.jid, f"m{n}")
    await inbox.wait(lambda m: m.text == "m999", timeout=60)
    await sock.idle()
    assert [m.text for m in inbox.messages] == [f"m{n}" for n in range(1000)]
    # and 200 sends from the bot arrive in order too
    sends = [sock.send_message(alice.jid, {"text": f"r{n}"}) for n in range(200)]
    await asyncio.gather(*sends)
    texts: list[str | None] = []
    while len(texts) < 200:
        texts.append((await alice.next_message()).text)
    assert texts == [f"r{n}" for n in range(200)]
    assert sock.sender._chat_locks == {}  # the per-chat locks go once the sends are done
    await sock.end()


async def _run_bot(sim: SimServer, folder: Path, mode: str) -> tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(CRASH_BOT),
        sim.url,
        sim.root_public_key.hex(),
        str(folder),
        mode,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode() + err.decode()


@pytest.mark.parametrize(
    "mode",
    ["kill-before-commit", "kill-after-commit", "kill-in-async-handler", "kill-before-receipt"],
)
async def test_sigkill_while_handling_a_message_loses_nothing_and_duplicates_nothing(
    quiet_sim: SimServer, tmp_path: Path, mode: str
) -> None:
    sim = quiet_sim  # the bot process meets one pending message only: its kill point's
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    folder = tmp_path / "auth"
    state, save_creds = await use_multi_file_auth_state(folder)
    sock = await link(sim, bot_phone, state)
    await save_creds()
    await sock.end()
    # the message waits on the server while the bot is away
    await alice.send_text(bot_phone.jid, "exactly once")
    code, first = await _run_bot(sim, folder, mode)
    assert code == -9, first  # SIGKILL
    code, second = await _run_bot(sim, folder, "run")
    assert code == 0, second
    got = [line for line in (first + second).splitlines() if line.startswith(("GOT ", "STUB "))]
    assert got == ["GOT exactly once"], first + second


async def test_a_peer_retry_receipt_is_answered_by_resending_to_that_device(
    sim: SimServer,
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    sock = await link(sim, bot_phone)
    inbox = Inbox(sock)
    first = await alice.send_text(bot_phone.jid, "hi")
    await inbox.wait(lambda m: m.key.id == first)
    nodes = record_sends(sock)
    alice.endpoint.fail_decrypt_from.add("15550001111")  # her phone "cannot" read the next one
    sent = await sock.send_message(alice.jid, {"text": "second try"})
    got = await alice.next_message()
    while got.id != sent.key.id:
        got = await alice.next_message()
    assert got.text == "second try"
    assert sum(1 for m in alice.received if m.id == sent.key.id) == 1
    # one resend (one bare <enc>, not a fan-out), to her phone alone, answering retry 1
    resent = [n for n in nodes if n.tag == "message" and n.get_child("participants") is None]
    assert len(resent) == 1 and resent[0].attrs["id"] == sent.key.id
    assert resent[0].attrs["to"] == str(alice.jid) and resent[0].attrs["device_fanout"] == "false"
    assert resent[0].require_child("enc").attrs["count"] == "1"
    await sock.end()


async def test_a_half_decrypted_stanza_leaves_no_saved_copy(sim: SimServer, tmp_path: Path) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    state, _ = await use_multi_file_auth_state(tmp_path / "auth")  # a durable store
    sock = await link(sim, bot_phone, state)
    group = await alice.create_group("G", [bot_phone.jid])
    captured: list[Node] = []
    real = sock.receiver.on_message

    async def corrupt_skmsg(node: Node) -> None:
        encs = node.get_children("enc")
        if any(e.attrs.get("type") == "skmsg" for e in encs):
            for enc in encs:
                if enc.attrs.get("type") == "skmsg":
                    data = enc.content_bytes() or b""
                    enc.content = data[:-1] + bytes([data[-1] ^ 1])  # a bad signature
            captured.append(node)
        await real(node)

    sock.receiver.on_message = corrupt_skmsg  # type: ignore[method-assign]
    sent = record_sends(sock)
    await alice.send_text(f"{group.id}@g.us", "hello")
    await settle(sim, sock)  # delivered, handled, the retry asked for
    (node,) = captured[:1]
    pkmsg = next(e for e in node.get_children("enc") if e.attrs["type"] == "pkmsg")
    sender = JID(alice.lid_user, "lid", 0)
    key = _buffer_key(pkmsg, sender, JID(group.id, "g.us"))
    assert await state.keys.get("event-buffer", [key]) == {}  # the key distribution's copy
    assert any(n.tag == "receipt" and n.attrs.get("type") == "retry" for n in sent)
    await sock.end()
