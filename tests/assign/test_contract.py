"""The registry contract, held against every backend (memory, SQLite, Redis)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

import pytest

from wamd.assign import (
    AssignmentBackend,
    AssignmentError,
    Claim,
    LeastLoaded,
    RoundRobin,
)
from wamd.errors import WamdError

from .conftest import Timeline

CHAT = "15551234567@s.whatsapp.net"
GROUP = "120363000000000001@g.us"


async def test_claim_free_chat_then_others_are_refused(backend: AssignmentBackend) -> None:
    got = await backend.claim(CHAT, "alice", 60)
    assert got is not None
    assert (got.chat, got.handler, got.fresh) == (CHAT, "alice", True)
    assert got.token >= 1 and 0 < got.ttl <= 60 and 0 < got.remaining <= 60
    assert await backend.claim(CHAT, "bob", 60) is None
    held = await backend.holder(CHAT)
    assert held is not None and (held.handler, held.token, held.fresh) == (
        "alice",
        got.token,
        False,
    )
    again = await backend.claim(CHAT, "alice", 120)  # our own: extended, same tenure
    assert again is not None and again.token == got.token and not again.fresh
    assert again.ttl > 60


async def test_force_takes_the_chat_with_a_new_token(backend: AssignmentBackend) -> None:
    first = await backend.claim(CHAT, "bot", 60)
    assert first is not None
    taken = await backend.claim(CHAT, "alice", 60, force=True)
    assert taken is not None and taken.fresh and taken.token > first.token
    assert not await backend.is_current(first)
    assert await backend.is_current(taken)
    assert await backend.renew(CHAT, "bot", 60) is None  # the old holder has lost it
    assert not await backend.release(CHAT, "bot")


async def test_renew(backend: AssignmentBackend) -> None:
    got = await backend.claim(CHAT, "alice", 30)
    assert got is not None
    renewed = await backend.renew(CHAT, "alice", 300, token=got.token)
    assert renewed is not None and renewed.token == got.token and not renewed.fresh
    assert renewed.ttl > 200
    assert await backend.renew(CHAT, "bob", 300) is None
    assert await backend.renew(CHAT, "alice", 300, token=got.token + 1) is None
    assert await backend.renew("other@s.whatsapp.net", "alice", 300) is None
    assert await backend.renew(CHAT, "alice", 300) is not None  # without a token


async def test_release(backend: AssignmentBackend) -> None:
    got = await backend.claim(CHAT, "alice", 60)
    assert got is not None
    assert not await backend.release(CHAT, "bob")
    assert not await backend.release(CHAT, "alice", token=got.token + 1)
    assert await backend.holder(CHAT) is not None
    assert await backend.release(CHAT, "alice", token=got.token)
    assert await backend.holder(CHAT) is None
    assert not await backend.release(CHAT, "alice")
    again = await backend.claim(CHAT, "alice", 60)  # a new tenure, even for the same handler
    assert again is not None and again.fresh and again.token > got.token


async def test_transfer(backend: AssignmentBackend) -> None:
    assert await backend.transfer(CHAT, "bob", 60) is None  # nothing to transfer
    got = await backend.claim(CHAT, "alice", 60)
    assert got is not None
    assert await backend.transfer(CHAT, "bob", 60, current="carol") is None
    assert await backend.transfer(CHAT, "bob", 60, token=got.token + 1) is None
    moved = await backend.transfer(CHAT, "bob", 60, current="alice", token=got.token)
    assert moved is not None and moved.handler == "bob" and moved.fresh
    assert moved.token > got.token
    held = await backend.holder(CHAT)
    assert held is not None and held.handler == "bob"
    assert [c.chat for c in await backend.chats_of("alice")] == []
    assert [c.chat for c in await backend.chats_of("bob")] == [CHAT]
    same = await backend.transfer(CHAT, "bob", 90)  # to its holder: a renewal
    assert same is not None and same.token == moved.token and not same.fresh
    assert await backend.renew(CHAT, "alice", 60, token=got.token) is None


async def test_chats_of_and_load(backend: AssignmentBackend) -> None:
    chats = [f"1555000000{i}@s.whatsapp.net" for i in range(5)]
    for chat in chats[:3]:
        assert await backend.claim(chat, "alice", 60)
    for chat in chats[3:]:
        assert await backend.claim(chat, "bob", 60)
    assert [c.chat for c in await backend.chats_of("alice")] == chats[:3]
    assert all(isinstance(c, Claim) and c.handler == "bob" for c in await backend.chats_of("bob"))
    assert await backend.load(["alice", "bob", "carol"]) == {"alice": 3, "bob": 2, "carol": 0}
    assert await backend.release(chats[0], "alice")
    assert await backend.claim(chats[1], "bob", 60, force=True)
    assert [c.chat for c in await backend.chats_of("alice")] == [chats[2]]
    assert await backend.load(["alice", "bob"]) == {"alice": 1, "bob": 3}
    assert await backend.chats_of("nobody") == []
    assert await backend.load([]) == {}


async def test_names_with_odd_characters_do_not_collide(backend: AssignmentBackend) -> None:
    odd = ["a:b", "a", "c:a:b", "ünï cødé 💬", 'quote"s', "x" * 1024]
    for i, name in enumerate(odd):
        got = await backend.claim(name, name, 60)
        assert got is not None and got.handler == name, i
    for name in odd:
        assert [c.chat for c in await backend.chats_of(name)] == [name]


async def test_least_loaded_policy(backend: AssignmentBackend) -> None:
    admins = ["alice", "bob", "carol"]
    await backend.claim("busy-1", "alice", 60)
    await backend.claim("busy-2", "alice", 60)
    await backend.claim("busy-3", "bob", 60)
    got = await backend.assign("new-1", admins, 60)
    assert got is not None and got.handler == "carol" and got.fresh
    got = await backend.assign("new-2", admins, 60)  # bob 1, carol 1: the first listed
    assert got is not None and got.handler == "bob"
    kept = await backend.assign("new-1", admins, 60)  # held: returned unchanged
    assert kept is not None and kept.handler == "carol" and not kept.fresh
    full = LeastLoaded(capacity=2)
    got = await backend.assign("new-3", admins, 60, policy=full)
    assert got is not None and got.handler == "carol"
    assert await backend.load(admins) == {"alice": 2, "bob": 2, "carol": 2}
    assert await backend.assign("new-4", admins, 60, policy=full) is None
    assert await backend.holder("new-4") is None
    per_admin = LeastLoaded(capacity={"alice": 2})  # bob and carol have no limit here
    got = await backend.assign("new-4", admins, 60, policy=per_admin)
    assert got is not None and got.handler == "bob"


async def test_round_robin_policy(backend: AssignmentBackend) -> None:
    admins = ["alice", "bob", "carol"]
    rr = RoundRobin()
    picks = []
    for i in range(6):
        got = await backend.assign(f"chat-{i}", admins, 60, policy=rr)
        assert got is not None
        picks.append(got.handler)
    assert picks == admins * 2
    capped = RoundRobin(capacity={"alice": 2, "bob": 2})  # carol unlimited
    for i in range(6, 9):
        got = await backend.assign(f"chat-{i}", admins, 60, policy=capped)
        assert got is not None and got.handler == "carol"
    assert await backend.assign("chat-x", [], 60) is None


async def test_handled_marks_first_wins(backend: AssignmentBackend) -> None:
    assert await backend.mark_handled(CHAT, None, "ABC", by="bot-1")
    assert not await backend.mark_handled(CHAT, None, "ABC", by="bot-2")
    assert not await backend.mark_handled(CHAT, "", "ABC", by="bot-2")  # None and "" agree
    assert await backend.handled_by(CHAT, None, "ABC") == "bot-1"
    # the same id in another chat, or from another participant, is another message
    assert await backend.mark_handled("15559999999@s.whatsapp.net", None, "ABC", by="bot-2")
    assert await backend.mark_handled(GROUP, "1555111@s.whatsapp.net", "ABC", by="bot-2")
    assert await backend.mark_handled(GROUP, "1555222@s.whatsapp.net", "ABC", by="bot-2")
    assert await backend.handled_by(GROUP, "1555333@s.whatsapp.net", "ABC") is None
    assert await backend.unmark_handled(CHAT, None, "ABC")
    assert not await backend.unmark_handled(CHAT, None, "ABC")
    assert await backend.mark_handled(CHAT, None, "ABC", by="bot-2")


async def test_sent_records(backend: AssignmentBackend) -> None:
    assert await backend.sent_by("3EB0AAAA") is None
    assert await backend.record_sent("3EB0AAAA", by="bot/host/1")
    assert not await backend.record_sent("3EB0AAAA", by="bot/host/2")
    assert await backend.sent_by("3EB0AAAA") == "bot/host/1"
    # sends and handled marks live apart
    assert await backend.handled_by(CHAT, None, "3EB0AAAA") is None


async def test_fencing_tokens_increase_on_every_change_of_owner(
    timed: tuple[AssignmentBackend, Timeline],
) -> None:
    backend, timeline = timed
    tokens = []
    got = await backend.claim(CHAT, "a", 30)
    assert got is not None
    tokens.append(got.token)
    renewed = await backend.renew(CHAT, "a", 30)
    assert renewed is not None and renewed.token == got.token
    steps: list[Callable[[], Any]] = [
        lambda: backend.claim(CHAT, "b", 30, force=True),
        lambda: backend.transfer(CHAT, "c", 30),
        lambda: backend.claim(CHAT, "d", 30, force=True),
    ]
    for step in steps:
        claim = await step()
        assert claim is not None and claim.fresh
        tokens.append(claim.token)
    assert await backend.release(CHAT, "d")
    claim = await backend.claim(CHAT, "d", 0.3)
    assert claim is not None
    tokens.append(claim.token)
    await timeline.advance(0.5)
    claim = await backend.claim(CHAT, "d", 0.3)  # expired: a new tenure for the same handler
    assert claim is not None and claim.fresh
    tokens.append(claim.token)
    other = await backend.claim("other-chat", "a", 30)
    assert other is not None and other.token > tokens[-1]  # one counter for all chats
    assert tokens == sorted(set(tokens)) and len(tokens) == 6


async def test_expired_claim_is_never_honoured(timed: tuple[AssignmentBackend, Timeline]) -> None:
    backend, timeline = timed
    got = await backend.claim(CHAT, "alice", 0.2)
    assert got is not None
    await backend.claim("kept", "alice", 60)
    await timeline.advance(0.4)
    assert await backend.holder(CHAT) is None
    assert await backend.renew(CHAT, "alice", 60) is None
    assert await backend.renew(CHAT, "alice", 60, token=got.token) is None
    assert not await backend.release(CHAT, "alice")
    assert await backend.transfer(CHAT, "bob", 60) is None
    assert [c.chat for c in await backend.chats_of("alice")] == ["kept"]
    assert await backend.load(["alice"]) == {"alice": 1}
    assert not await backend.is_current(got)
    bob = await backend.claim(CHAT, "bob", 60)
    assert bob is not None and bob.fresh and bob.token > got.token


async def test_marks_expire(timed: tuple[AssignmentBackend, Timeline]) -> None:
    backend, timeline = timed
    assert await backend.mark_handled(CHAT, None, "M1", by="a", ttl=0.2)
    assert await backend.record_sent("S1", by="a", ttl=0.2)
    await timeline.advance(0.4)
    assert await backend.handled_by(CHAT, None, "M1") is None
    assert await backend.sent_by("S1") is None
    assert await backend.mark_handled(CHAT, None, "M1", by="b")


async def test_many_tasks_claiming_one_chat_one_winner(
    kind: str, make_backend: Callable[..., AssignmentBackend]
) -> None:
    # SQLite: four objects (four connections, four threads) on one file, as four processes would
    backends = [make_backend(kind) for _ in range(4 if kind != "memory" else 1)]
    results = await asyncio.gather(
        *(backends[i % len(backends)].claim(CHAT, f"h{i}", 60) for i in range(200))
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    held = await backends[0].holder(CHAT)
    assert held is not None and held.handler == winners[0].handler
    # and for a forced race every claim succeeds, each with its own token
    forced = await asyncio.gather(
        *(backends[i % len(backends)].claim(CHAT, f"f{i}", 60, force=True) for i in range(50))
    )
    tokens = [c.token for c in forced if c is not None]
    assert len(set(tokens)) == 50 and min(tokens) > winners[0].token
    held = await backends[0].holder(CHAT)
    assert held is not None and held.token == max(tokens)


async def test_many_tasks_marking_one_message_one_winner(
    kind: str, make_backend: Callable[..., AssignmentBackend]
) -> None:
    backends = [make_backend(kind) for _ in range(4 if kind != "memory" else 1)]
    results = await asyncio.gather(
        *(
            backends[i % len(backends)].mark_handled(GROUP, "1555@s.whatsapp.net", "X", by=f"c{i}")
            for i in range(200)
        )
    )
    assert results.count(True) == 1
    winner = f"c{results.index(True)}"
    assert await backends[-1].handled_by(GROUP, "1555@s.whatsapp.net", "X") == winner


BAD_NAMES: list[Any] = ["", "   ", None, 5, b"bytes", "nul\x00byte", "x" * 1025]
BAD_TTLS: list[Any] = [0, -1, -0.5, math.nan, math.inf, True, "60", None, 10**9]


@pytest.mark.parametrize("chat", BAD_NAMES)
async def test_bad_chat_is_refused(backend: AssignmentBackend, chat: Any) -> None:
    for call in (
        lambda: backend.claim(chat, "alice", 60),
        lambda: backend.renew(chat, "alice", 60),
        lambda: backend.release(chat, "alice"),
        lambda: backend.transfer(chat, "alice", 60),
        lambda: backend.holder(chat),
        lambda: backend.mark_handled(chat, None, "ID", by="a"),
        lambda: backend.handled_by(chat, None, "ID"),
    ):
        with pytest.raises(AssignmentError):
            await call()


@pytest.mark.parametrize("handler", BAD_NAMES)
async def test_bad_handler_is_refused(backend: AssignmentBackend, handler: Any) -> None:
    for call in (
        lambda: backend.claim(CHAT, handler, 60),
        lambda: backend.renew(CHAT, handler, 60),
        lambda: backend.release(CHAT, handler),
        lambda: backend.transfer(CHAT, handler, 60),
        lambda: backend.transfer(CHAT, "bob", 60, current=handler or 0),  # None: any holder
        lambda: backend.chats_of(handler),
        lambda: backend.load([handler]),
        lambda: backend.assign(CHAT, [handler], 60),
        lambda: backend.mark_handled(CHAT, None, "ID", by=handler),
    ):
        with pytest.raises(AssignmentError):
            await call()
    assert await backend.holder(CHAT) is None  # nothing was written


@pytest.mark.parametrize("ttl", BAD_TTLS)
async def test_bad_ttl_is_refused(backend: AssignmentBackend, ttl: Any) -> None:
    for call in (
        lambda: backend.claim(CHAT, "alice", ttl),
        lambda: backend.renew(CHAT, "alice", ttl),
        lambda: backend.transfer(CHAT, "alice", ttl),
        lambda: backend.assign(CHAT, ["alice"], ttl),
        lambda: backend.mark_handled(CHAT, None, "ID", by="a", ttl=ttl),
        lambda: backend.record_sent("ID", by="a", ttl=ttl),
    ):
        with pytest.raises(AssignmentError):
            await call()
    assert await backend.holder(CHAT) is None


async def test_other_bad_input_is_refused(backend: AssignmentBackend) -> None:
    for token in (0, -3, True, "1", 1.5):
        with pytest.raises(AssignmentError, match="token"):
            await backend.renew(CHAT, "alice", 60, token=token)
        with pytest.raises(AssignmentError, match="token"):
            await backend.release(CHAT, "alice", token=token)
    with pytest.raises(AssignmentError, match="force"):
        await backend.claim(CHAT, "alice", 60, force="yes")  # type: ignore[arg-type]
    with pytest.raises(AssignmentError, match="not one string"):
        await backend.load("alice")
    with pytest.raises(AssignmentError, match="message id"):
        await backend.mark_handled(CHAT, None, "", by="a")
    with pytest.raises(AssignmentError, match="participant"):
        await backend.mark_handled(CHAT, 7, "ID", by="a")  # type: ignore[arg-type]
    with pytest.raises(AssignmentError, match="Claim"):
        await backend.is_current("not a claim")  # type: ignore[arg-type]
    with pytest.raises(AssignmentError, match="capacity"):
        LeastLoaded(capacity=-1)
    with pytest.raises(AssignmentError, match="capacity"):
        RoundRobin(capacity={"alice": 1.5})  # type: ignore[dict-item]
    assert issubclass(AssignmentError, WamdError)
