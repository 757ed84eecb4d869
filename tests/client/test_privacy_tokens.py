"""Privacy tokens against a sim that requires them (``require_tctoken=True``): kept on
every store, attached to 1:1 messages, ours issued once per bucket, and 463 handled."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from typing import Literal

import pytest

from tests.client.conftest import Inbox, record_sends
from tests.client.fakes import offline_client
from tests.client.stores import every_store, fresh_state, link  # noqa: F401 (fixture)
from wamd.appstate.codec import Mutation
from wamd.binary import Node
from wamd.client.privacy_tokens import BUCKET_SECONDS, BUCKETS
from wamd.errors import SendError
from wamd.proto import sync_action_pb2
from wamd.sim import SimServer
from wamd.sim.services import nct_salt
from wamd.testing import settle, sim_server, wait_received


def issues(sent: list[Node]) -> list[Node]:
    return [n for n in sent if n.tag == "iq" and n.attrs.get("xmlns") == "privacy"]


async def test_a_first_message_without_a_token_is_refused_and_ours_issued(
    every_store: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with sim_server(require_tctoken=True) as sim:
        bot_phone = sim.add_phone("15550001111", "Bot")
        alice = sim.add_phone("15550002222", "Alice")
        bot = await link(sim, bot_phone)
        await settle(sim, bot)
        assert bot.sender.tokens.salt() is not None  # the history sync's nctSalt
        bot.sender.tokens.learn_salt(None)  # an account whose phone shares no salt: no cstoken
        sent = record_sends(bot)
        with pytest.raises(SendError, match="error 463 \\(no privacy token"):
            await bot.send_message(alice.jid, {"text": "hello, we have not met"})
        assert len(sent.of("message")) == 1  # not retried
        (issued,) = issues(sent)
        token = issued.require_child("tokens").require_child("token")
        assert token.attrs["jid"] == str(alice.lid) or token.attrs["jid"] == str(alice.jid)
        assert token.attrs["type"] == "trusted_contact"
        assert (bot_phone.number, alice.number) in sim.state.tc_tokens
        assert alice.received == []
        # Alice writes: her phone issues its token, the bot keeps it and may answer
        inbox = Inbox(bot)
        with caplog.at_level(logging.INFO):
            mid = await alice.send_text(bot_phone.jid, "hi, I wrote first")
            await inbox.wait(lambda m: m.key.id == mid)
            await settle(sim, bot)
        held, _ = sim.state.tc_tokens[(alice.number, bot_phone.number)]
        kept = await bot.sender.tokens.tokens.get(str(alice.lid))
        assert kept is not None and kept.token == held  # on this store, under her lid
        assert held.hex() not in repr(kept) and held.hex() not in caplog.text
        reply = await bot.send_message(alice.jid, {"text": "welcome"})
        (stanza,) = [m for m in sent.of("message") if m.attrs["id"] == reply.key.id]
        assert stanza.require_child("tctoken").content_bytes() == held
        await wait_received(alice, lambda m: m.id == reply.key.id)
        await bot.end()


async def test_our_token_is_issued_once_per_bucket_and_a_stale_one_not_sent(
    sim: SimServer,
) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone, await fresh_state())
    keeper = bot.sender.tokens
    sent = record_sends(bot)
    # whatsmeow issues in the background: a burst of sends issues once, after the first
    await asyncio.gather(*(bot.send_message(alice.jid, {"text": t}) for t in ("one", "two")))
    await bot.send_message(alice.jid, {"text": "two and a half"})
    await settle(sim, bot)
    assert len(issues(sent)) == 1  # once in this bucket
    # sends racing to the same new contact: the bucket is claimed before the iq goes out
    bob = sim.add_phone("15550004444", "Bob")
    await asyncio.gather(*(keeper.after_send(bob.jid) for _ in range(3)))
    await bot.idle()
    assert [i.require_child("tokens").require_child("token").attrs["jid"] for i in issues(sent)][
        1:
    ] == [str(bob.jid)]
    first_message = next(i for i, n in enumerate(sent) if n.tag == "message")
    assert sent.index(issues(sent)[0]) > first_message  # after the message, not before
    now = keeper.clock()
    keeper.clock = lambda: now + BUCKET_SECONDS
    await bot.send_message(alice.jid, {"text": "three"})
    await settle(sim, bot)
    assert len(issues(sent)) == 3  # a new week, a new issue
    # a token of ours from Alice that is past the last bucket is not attached
    await keeper.tokens.put_token(str(alice.lid), b"T" * 24, int(now))
    await bot.send_message(alice.jid, {"text": "fresh"})
    assert sent.of("message")[-1].require_child("tctoken").content_bytes() == b"T" * 24
    keeper.clock = lambda: now + BUCKETS * BUCKET_SECONDS
    await bot.send_message(alice.jid, {"text": "stale"})
    assert sent.of("message")[-1].get_child("tctoken") is None
    await bot.end()


async def test_a_group_message_carries_no_token_and_issues_none(sim: SimServer) -> None:
    bot_phone = sim.add_phone("15550001111", "Bot")
    alice = sim.add_phone("15550002222", "Alice")
    bot = await link(sim, bot_phone, await fresh_state())
    group = await bot.group_create("Team", [str(alice.jid)])
    sent = record_sends(bot)
    await bot.send_message(group.id, {"text": "hi all"})
    assert sent.of("message")[0].get_child("tctoken") is None and issues(sent) == []
    await bot.end()


@pytest.mark.parametrize(
    "notification",
    [
        Node("notification", {"type": "privacy_token", "from": "15550002222@s.whatsapp.net"}),
        Node(
            "notification",
            {"type": "privacy_token", "from": "15550002222@s.whatsapp.net"},
            [Node("tokens", {}, [Node("token", {"type": "trusted_contact"}, b"no time")])],
        ),
        Node(
            "notification",
            {"type": "privacy_token", "from": "15550002222@s.whatsapp.net"},
            [Node("tokens", {}, [Node("token", {"type": "other", "t": "5"}, b"x")])],
        ),
        Node(
            "notification",
            {"type": "privacy_token", "from": "not a jid@@"},
            [Node("tokens", {}, [Node("token", {"type": "trusted_contact", "t": "5"}, b"x")])],
        ),
    ],
)
async def test_malformed_token_notifications_store_nothing(notification: Node) -> None:
    client = offline_client(lambda request: Node("iq", {"type": "result"}))
    notification.attrs["id"] = "N1"
    await client.receiver.on_notification(notification)
    assert await client.core.auth.keys.get("tctoken", ["15550002222@s.whatsapp.net"]) == {}
    (ack,) = client.link.of("ack")  # acked all the same
    assert ack.attrs["id"] == "N1"


async def test_without_a_token_a_cstoken_from_the_nct_salt_goes_instead(
    every_store: str,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with sim_server(require_tctoken=True) as sim:
        bot_phone = sim.add_phone("15550001111", "Bot")
        alice = sim.add_phone("15550002222", "Alice")
        state = await fresh_state()
        bot = await link(sim, bot_phone, state)
        await settle(sim, bot)
        keeper = bot.sender.tokens
        salt = keeper.salt()
        assert salt == nct_salt(sim.state, bot_phone)  # from the history sync, kept in creds
        assert state.creds.account_settings["nctSalt"] == base64.b64encode(salt).decode()
        sent = record_sends(bot)
        with caplog.at_level(logging.DEBUG):
            first = await bot.send_message(alice.jid, {"text": "hello, first contact"})
        (stanza,) = sent.of("message")
        assert stanza.get_child("tctoken") is None
        cstoken = stanza.require_child("cstoken").content_bytes()
        # whatsmeow cstoken.go: HMAC-SHA256(salt, the recipient's LID JID)
        assert cstoken == hmac.new(salt, str(alice.lid).encode(), hashlib.sha256).digest()
        await wait_received(alice, lambda m: m.id == first.key.id)  # the sim took it
        assert salt.hex() not in caplog.text and base64.b64encode(salt).decode() not in caplog.text
        # a salt that is not the account's gives a cstoken the server refuses
        keeper.learn_salt(b"\x01" * 32)
        bob = sim.add_phone("15550004444", "Bob")
        with pytest.raises(SendError, match="463"):
            await bot.send_message(bob.jid, {"text": "hello bob"})

        # the app state's nct_salt_sync mutation sets and removes it (whatsmeow appstate.go)
        def mutation(operation: Literal["set", "remove"], value: bytes) -> Mutation:
            action = sync_action_pb2.SyncActionValue(
                nctSaltSyncAction=sync_action_pb2.NctSaltSyncAction(salt=value)
            )
            return Mutation(operation, ("nct_salt_sync",), action, 1, b"", b"", 5)

        bot.appstate._emit([mutation("set", salt)], 0, full_sync=False)
        assert keeper.salt() == salt
        assert (await bot.send_message(bob.jid, {"text": "again"})).key.id
        bot.appstate._emit([mutation("remove", b"")], 0, full_sync=False)
        assert keeper.salt() is None and "nctSalt" not in state.creds.account_settings
        assert await keeper.cs_token_node(bob.jid) is None
        await bot.end()
