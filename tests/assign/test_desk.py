"""``Desk`` with fake linked devices: exactly-once replies, recorded sends, human takeover."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

import pytest

from wamd.assign import (
    AssignmentBackend,
    AssignmentError,
    BackendError,
    ChatHeld,
    Claim,
    Desk,
    MemoryAssignments,
)
from wamd.events import MessagesUpsert
from wamd.messaging.types import MessageKey, WAMessage
from wamd.proto import e2e_pb2

from .conftest import FakeClock, Timeline
from .fakes import FakeAccount, FakeSocket, customer, device, from_me, incoming

BOT_A, BOT_B, ADMIN_PHONE, ADMIN_WEB = 5, 6, 0, 3


class Bot:
    """One bot process: a linked device, a desk, and an echo handler that replies."""

    def __init__(self, account: FakeAccount, n: int, backend: AssignmentBackend, **opts: Any):
        self.sock = account.link(n)
        self.desk = Desk(self.sock, backend, instance=f"bot-{n}", **opts)
        self.handled: list[WAMessage] = []
        self.takeovers: list[Claim] = []
        self.desk.on_takeover = lambda claim, msg: self.takeovers.append(claim)

        @self.sock.ev.on("messages.upsert")
        @self.desk.once
        async def on_messages(upsert: MessagesUpsert) -> None:
            for msg in upsert.messages:
                self.handled.append(msg)
                await self.desk.reply(msg, {"text": f"re: {msg.text}"})


@pytest.fixture
def backends(
    kind: str, clock: FakeClock, make_backend: Callable[..., AssignmentBackend]
) -> tuple[AssignmentBackend, AssignmentBackend, Timeline]:
    """Two bot processes' backends (one shared object for memory) and their time."""
    fake = None if kind == "redis" else clock
    first = make_backend(kind, fake)
    second = first if kind == "memory" else make_backend(kind, fake)
    return first, second, Timeline(kind, clock)


def replies(account: FakeAccount) -> list[WAMessage]:
    """What the bots sent (the admin's device excluded)."""
    return [m for s in account.sockets for m in s.sent if s.user and s.user.id != device(ADMIN_WEB)]


async def test_two_bots_reply_exactly_once_500_messages_20_customers(
    backends: tuple[AssignmentBackend, AssignmentBackend, Timeline],
) -> None:
    account = FakeAccount()
    a = Bot(account, BOT_A, backends[0])
    b = Bot(account, BOT_B, backends[1])
    rng = random.Random(7)
    customers = [customer(i) for i in range(20)]
    sent_in = []
    while len(sent_in) < 500:
        batch = [
            incoming(rng.choice(customers), f"q{len(sent_in) + i}")
            for i in range(rng.randint(1, 4))
        ]
        batch = batch[: 500 - len(sent_in)]
        sent_in.extend(batch)
        for sock in rng.sample(account.sockets, 2):  # either process may see it first
            sock.deliver(*batch)
        if rng.random() < 0.2:
            await account.drain()
    await account.drain()
    out = replies(account)
    assert len(out) == 500
    assert sorted(m.text or "" for m in out) == sorted(f"re: {m.text}" for m in sent_in)
    assert len(a.handled) + len(b.handled) == 500
    assert a.handled and b.handled  # both processes took part
    # the bots' echoes reached each other and were not taken for an admin
    assert a.takeovers == b.takeovers == []
    for chat in customers:
        assert await backends[0].holder(chat) is None
    mid = out[0].key.id
    assert await backends[1].sent_by(mid) in ("bot-5", "bot-6")


async def test_admin_reply_silences_the_bot_until_the_ttl_passes(
    backends: tuple[AssignmentBackend, AssignmentBackend, Timeline],
) -> None:
    first, second, timeline = backends
    account = FakeAccount()
    admins = {device(ADMIN_WEB): "alice"}
    a = Bot(account, BOT_A, first, admins=admins, takeover_ttl=2.0)
    b = Bot(account, BOT_B, second, admins=admins, takeover_ttl=2.0)
    admin = account.link(ADMIN_WEB)
    chat, other = customer(1), customer(2)

    account.deliver(incoming(chat, "hi"))
    await account.drain()
    assert len(replies(account)) == 1

    await admin.send_message(chat, {"text": "Alice here, I'll take it"}, message_id="3EB0A1")
    await account.drain()
    held = await first.holder(chat)
    assert held is not None and held.handler == "alice"
    assert len(a.takeovers) + len(b.takeovers) == 1  # one fresh takeover across processes
    assert (a.takeovers + b.takeovers)[0].token == held.token

    before = {m.key.id for m in replies(account)}
    account.deliver(incoming(chat, "still there?"), incoming(other, "hello"))
    await account.drain()
    new = [m for m in replies(account) if m.key.id not in before]
    assert [m.key.remote_jid for m in new] == [other]
    with pytest.raises(ChatHeld) as err:
        await a.desk.send(chat, {"text": "bot speaking"})
    assert err.value.claim.handler == "alice"

    await admin.send_message(chat, {"text": "one more"})  # renews alice's hold
    await account.drain()
    renewed = await second.holder(chat)
    assert renewed is not None and renewed.token == held.token
    assert len(a.takeovers) + len(b.takeovers) == 1

    await timeline.advance(2.3)
    assert await first.holder(chat) is None
    before = {m.key.id for m in replies(account)}
    account.deliver(incoming(chat, "anyone?"))
    await account.drain()
    back = [m for m in replies(account) if m.key.id not in before]
    assert len(back) == 1 and back[0].text == "re: anyone?"


async def test_takeover_names_the_device_when_no_admin_is_mapped() -> None:
    account = FakeAccount()
    bot = Bot(account, BOT_A, MemoryAssignments())
    phone = account.link(ADMIN_PHONE)
    await phone.send_message(customer(3), {"text": "from my phone"})
    await account.drain()
    held = await bot.desk.assignments.holder(customer(3))
    assert held is not None and held.handler == device(ADMIN_PHONE)
    assert bot.desk.admin_name(None) == "admin"


async def test_admin_message_first_in_an_upsert_silences_the_rest() -> None:
    account = FakeAccount()
    bot = Bot(account, BOT_A, MemoryAssignments())
    chat = customer(4)
    account.deliver(
        from_me(chat, "hello, admin here", sender=device(ADMIN_WEB)),
        incoming(chat, "hi admin"),
        incoming(customer(5), "hi bot"),
    )
    await account.drain()
    assert [m.key.remote_jid for m in bot.sock.sent] == [customer(5)]


async def test_what_is_not_a_takeover() -> None:
    account = FakeAccount()
    desk = Bot(account, BOT_A, MemoryAssignments(), bot_devices=[device(BOT_B)]).desk
    sock = account.sockets[0]
    chat = customer(6)
    reaction = e2e_pb2.Message()
    reaction.reactionMessage.text = "👍"
    key_share = e2e_pb2.Message()
    key_share.protocolMessage.type = 6  # an app-state key share between own devices
    not_takeovers = [
        from_me(chat, reaction, sender=device(ADMIN_WEB)),
        from_me(chat, key_share, sender=device(ADMIN_WEB)),
        from_me(device(0), "note to self", sender=device(ADMIN_WEB)),
        from_me("status@broadcast", "my status", sender=device(ADMIN_WEB)),
        from_me(chat, "sent by this process without the desk", sender=device(BOT_A)),
        from_me(chat, "sent by a listed bot device", sender=device(BOT_B)),
        WAMessage(MessageKey(chat, True, "3EB0STUB"), None, 0, sender=device(ADMIN_WEB)),
    ]
    sock.deliver(*not_takeovers)
    sock.deliver(from_me(chat, "history", sender=device(ADMIN_WEB)), type="append")
    await account.drain()
    for msg in [*not_takeovers]:
        assert await desk.assignments.holder(msg.key.remote_jid) is None
    # and a real one, for contrast
    sock.deliver(from_me(chat, "a human reply", sender=device(ADMIN_WEB)))
    await account.drain()
    assert await desk.assignments.holder(chat) is not None


async def test_stubs_and_history_are_skipped_unmarked() -> None:
    account = FakeAccount()
    bot = Bot(account, BOT_A, MemoryAssignments())
    chat = customer(7)
    stub = WAMessage(MessageKey(chat, False, "ABCD"), None, 0, stub_type="CIPHERTEXT")
    bot.sock.deliver(stub)
    bot.sock.deliver(incoming(chat, "old", mid="OLD1"), type="append")
    await account.drain()
    assert bot.handled == []
    assert await bot.desk.assignments.handled_by(chat, None, "ABCD") is None
    bot.sock.deliver(incoming(chat, "decrypted on retry", mid="ABCD"))
    bot.sock.deliver(incoming(chat, "decrypted on retry", mid="ABCD"))  # redelivered
    await account.drain()
    assert [m.text for m in bot.handled] == ["decrypted on retry"]


async def test_group_messages_are_keyed_by_participant_too() -> None:
    account = FakeAccount()
    bot = Bot(account, BOT_A, MemoryAssignments())
    group = "120363000000000001@g.us"
    bot.sock.deliver(
        incoming(group, "one", mid="SAME", participant=customer(8)),
        incoming(group, "two", mid="SAME", participant=customer(9)),
        incoming(customer(8), "three", mid="SAME"),
        incoming(group, "one again", mid="SAME", participant=customer(8)),
    )
    await account.drain()
    assert [m.text for m in bot.handled] == ["one", "two", "three"]


async def test_take_over_and_hand_back_by_hand() -> None:
    account = FakeAccount()
    bot = Bot(account, BOT_A, MemoryAssignments())
    chat = customer(10)
    claim = await bot.desk.take_over(chat, "bob", ttl=60)
    quiet = await bot.desk.quiet_in(chat)
    assert claim.handler == "bob" and quiet is not None and quiet.token == claim.token
    bot.sock.deliver(incoming(chat, "hello?"))
    await account.drain()
    assert bot.handled == []
    assert await bot.desk.hand_back(chat)
    assert not await bot.desk.hand_back(chat)
    bot.sock.deliver(incoming(chat, "hello?"))
    await account.drain()
    assert len(bot.handled) == 1
    # the bot's own claim does not silence it
    assert await bot.desk.assignments.claim(chat, "bot", 60)
    assert await bot.desk.quiet_in(chat) is None
    with pytest.raises(AssignmentError):
        await bot.desk.take_over(chat, "bot")


async def test_takeover_during_a_handler_withholds_the_reply(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sock = FakeSocket(None, device(BOT_A))
    desk = Desk(sock, MemoryAssignments())

    @sock.ev.on("messages.upsert")
    @desk.once
    async def slow(upsert: MessagesUpsert) -> None:
        msg = upsert.messages[0]
        await desk.take_over(msg.key.remote_jid, "carol")  # an admin got there first
        await desk.reply(msg, {"text": "too late"})

    with caplog.at_level(logging.INFO, logger="wamd.assign"):
        sock.deliver(incoming(customer(11), "hi"))
        await sock.ev.drain()
    assert sock.sent == []
    assert any("withheld" in r.message and r.levelno == logging.INFO for r in caplog.records)
    assert not any(r.levelno >= logging.ERROR for r in caplog.records)
    forced = await desk.send(customer(11), {"text": "forced"}, force=True)
    assert forced.key.id.startswith("3EB0") and await desk.assignments.sent_by(forced.key.id)


async def test_send_records_the_id_before_sending() -> None:
    backend = MemoryAssignments()
    seen: list[str | None] = []

    class Recording(FakeSocket):
        async def send_message(self, jid: str, content_: Any, **kw: Any) -> WAMessage:
            seen.append(await backend.sent_by(kw["message_id"]))
            return await super().send_message(jid, content_, **kw)

    sock = Recording(None, device(BOT_A))
    desk = Desk(sock, backend, instance="bot-x")
    await desk.send(customer(12), {"text": "hi"})
    await desk.send(customer(12), {"text": "hi"}, message_id="3EB0CHOSEN")
    assert seen == ["bot-x", "bot-x"]
    with pytest.raises(AssignmentError, match="already recorded"):
        await desk.send(customer(12), {"text": "again"}, message_id="3EB0CHOSEN")
    assert len(sock.sent) == 2


async def test_a_failing_backend_skips_messages(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(MemoryAssignments):
        async def _mark(self, key: str, value: str, ttl: int) -> bool:
            raise BackendError("redis: ConnectionError: down")

    account = FakeAccount()
    bot = Bot(account, BOT_A, Broken())
    with caplog.at_level(logging.WARNING, logger="wamd.assign"):
        bot.sock.deliver(incoming(customer(13), "hi"))
        await account.drain()
    assert bot.handled == [] and bot.sock.sent == []
    assert any("skipping message" in r.message for r in caplog.records)


async def test_chat_key_joins_two_names_of_one_chat() -> None:
    pn, lid = customer(15), "98765432101234@lid"
    names = {lid: pn}

    async def to_pn(jid: str) -> str:
        return names.get(jid, jid)

    account = FakeAccount()
    bot = Bot(account, BOT_A, MemoryAssignments(), chat_key=to_pn)
    bot.sock.deliver(from_me(pn, "the owner, by phone number", sender=device(ADMIN_WEB)))
    bot.sock.deliver(incoming(lid, "the customer, by LID"))
    await account.drain()
    assert bot.handled == []
    held = await bot.desk.quiet_in(lid)
    assert held is not None and held.chat == pn
    with pytest.raises(ChatHeld):
        await bot.desk.reply(incoming(lid), {"text": "no"})
    assert await bot.desk.hand_back(lid)
    assert await bot.desk.quiet_in(pn) is None


async def test_close_stops_watching() -> None:
    account = FakeAccount()
    sock = account.link(BOT_A)
    desk = Desk(sock, MemoryAssignments())
    desk.close()
    sock.deliver(from_me(customer(14), "admin", sender=device(ADMIN_WEB)))
    await account.drain()
    assert await desk.assignments.holder(customer(14)) is None


def test_bad_desk_input() -> None:
    sock = FakeSocket(None, device(BOT_A))
    backend = MemoryAssignments()
    for kwargs in (
        {"name": ""},
        {"name": 3},
        {"admins": {device(3): "bot"}},
        {"admins": {device(3): ""}},
        {"takeover_ttl": -1},
        {"handled_ttl": 0},
        {"sent_ttl": float("nan")},
        {"bot_devices": [""]},
    ):
        with pytest.raises(AssignmentError):
            Desk(sock, backend, **kwargs)
    with pytest.raises(AssignmentError, match="AssignmentBackend"):
        Desk(sock, object())  # type: ignore[arg-type]


async def test_a_socket_that_maps_lids_gives_the_chat_key_by_default() -> None:
    pn, lid = customer(16), "98765432109999@lid"

    class MappingSocket(FakeSocket):
        async def phone_number_jid(self, jid: str) -> str:  # as WASocket does
            return pn if jid == lid else jid

    account = FakeAccount()
    sock = MappingSocket(account, device(BOT_A))
    account.sockets.append(sock)
    desk = Desk(sock, MemoryAssignments())
    sock.deliver(from_me(pn, "the owner, by phone number", sender=device(ADMIN_WEB)))
    await account.drain()
    held = await desk.quiet_in(lid)  # the customer writes under the lid: still held
    assert held is not None and held.chat == pn
