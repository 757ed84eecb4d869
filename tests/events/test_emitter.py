from __future__ import annotations

import asyncio
import logging

import pytest

from wamd.events import ConnectionUpdate, EmitterClosed, EventEmitter


async def test_sync_async_decorator_off_once() -> None:
    ev = EventEmitter()
    seen: list[str] = []

    def plain(payload: ConnectionUpdate) -> None:
        seen.append(f"plain:{payload.connection}")

    @ev.on("connection.update")
    async def coro(payload: ConnectionUpdate) -> None:
        seen.append(f"async:{payload.connection}")

    ev.on("connection.update", plain)
    ev.once("connection.update", lambda p: seen.append("once"))
    ev.emit("connection.update", ConnectionUpdate(connection="connecting"))
    await ev.drain()
    ev.off("connection.update", plain)
    ev.emit("connection.update", ConnectionUpdate(connection="open"))
    await ev.drain()
    assert seen == ["plain:connecting", "once", "async:connecting", "async:open"]


async def test_raising_handler_is_logged_and_others_run(caplog: pytest.LogCaptureFixture) -> None:
    ev = EventEmitter()
    got: list[int] = []

    def bad(_: object) -> None:
        raise RuntimeError("boom")

    async def bad_async(_: object) -> None:
        raise RuntimeError("async boom")

    ev.on("creds.update", bad)
    ev.on("creds.update", bad_async)
    ev.on("creds.update", lambda p: got.append(1))
    with caplog.at_level(logging.ERROR, logger="wamd.events"):
        ev.emit("creds.update", {"me": None})
        await ev.drain()
    assert got == [1]
    assert "boom" in caplog.text and "async boom" in caplog.text and "Traceback" in caplog.text


async def test_slow_async_handler_keeps_its_order_without_blocking_emit() -> None:
    ev = EventEmitter()
    seen: list[int] = []

    async def slow(payload: dict[str, int]) -> None:
        await asyncio.sleep(0.01 if payload["n"] % 2 == 0 else 0)
        seen.append(payload["n"])

    ev.on("creds.update", slow)
    for n in range(6):
        ev.emit("creds.update", {"n": n})  # returns at once
    assert seen == []
    await ev.drain()
    assert seen == list(range(6))


async def test_wait_for_predicate_timeout_and_close() -> None:
    ev = EventEmitter()

    async def later() -> None:
        await asyncio.sleep(0.01)
        ev.emit("connection.update", ConnectionUpdate(connection="connecting"))
        ev.emit("connection.update", ConnectionUpdate(connection="open"))

    task = asyncio.ensure_future(later())
    update = await ev.wait_for("connection.update", lambda u: u.connection == "open", timeout=1)
    assert update.connection == "open"
    await task
    with pytest.raises(TimeoutError):
        await ev.wait_for("connection.update", timeout=0.01)
    waiter = asyncio.ensure_future(ev.wait_for("call"))
    await asyncio.sleep(0)
    ev.close()
    with pytest.raises(EmitterClosed):
        await waiter


async def test_stream_and_close() -> None:
    ev = EventEmitter()
    got: list[tuple[str, object]] = []

    async def consume() -> None:
        async for item in ev.stream("call", "presence.update"):
            got.append(item)

    task = asyncio.ensure_future(consume())
    await asyncio.sleep(0)
    ev.emit("call", 1)
    ev.emit("chats.update", 2)
    ev.emit("presence.update", 3)
    ev.close()
    await asyncio.wait_for(task, 1)
    assert got == [("call", 1), ("presence.update", 3)]


def test_unknown_names_suggest_the_right_one() -> None:
    ev = EventEmitter()
    with pytest.raises(ValueError, match=r"messages\.upsert"):
        ev.on("message.upsert", lambda p: None)
    with pytest.raises(ValueError):
        ev.emit("nope", None)


async def test_cancelled_wait_and_raising_predicate_clean_up() -> None:
    ev = EventEmitter()
    waiter = asyncio.ensure_future(ev.wait_for("call"))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not ev._handlers["call"] and not ev._waiters

    def bad(_: object) -> bool:
        raise RuntimeError("predicate failed")

    pending = asyncio.ensure_future(ev.wait_for("call", bad, timeout=1))
    await asyncio.sleep(0)
    ev.emit("call", 1)
    with pytest.raises(RuntimeError, match="predicate failed"):
        await pending
    assert not ev._handlers["call"]


async def test_emit_tracked_waits_for_every_handler_of_that_payload() -> None:
    from wamd.events import EventEmitter

    ev = EventEmitter()
    seen: list[str] = []
    gate = asyncio.Event()

    def plain(payload: object) -> None:
        seen.append(f"plain {payload}")

    async def slow(payload: object) -> None:
        await gate.wait()
        seen.append(f"slow {payload}")

    async def broken(payload: object) -> None:
        raise RuntimeError("handler bug")

    ev.on("messages.upsert", plain)
    ev.on("messages.upsert", slow)
    ev.on("messages.upsert", broken)
    done = ev.emit_tracked("messages.upsert", 1)
    assert seen == ["plain 1"] and not done.done()
    for _ in range(50):  # loop turns (no clock): the broken handler has long finished
        await asyncio.sleep(0)
    assert not done.done()  # the slow handler is still at it
    gate.set()
    await asyncio.wait_for(done, 1)
    assert seen == ["plain 1", "slow 1"]  # a raising handler counts as run
    nobody = ev.emit_tracked("presence.update", 2)
    assert nobody.done()


def test_the_event_names_are_baileys_and_unchanged() -> None:
    from wamd.events import EVENT_NAMES

    assert EVENT_NAMES == {
        "connection.update",
        "creds.update",
        "messages.upsert",
        "messages.update",
        "messages.delete",
        "messages.reaction",
        "message-receipt.update",
        "presence.update",
        "groups.upsert",
        "groups.update",
        "group-participants.update",
        "chats.upsert",
        "chats.update",
        "chats.delete",
        "contacts.upsert",
        "contacts.update",
        "messaging-history.set",
        "call",
        "blocklist.set",
        "blocklist.update",
        "messaging-history.status",
        "lid-mapping.update",
        "messages.media-update",
        "group.join-request",
        "group.member-tag.update",
        "labels.edit",
        "labels.association",
        "newsletter.reaction",
        "newsletter.view",
        "newsletter-participants.update",
        "newsletter-settings.update",
        "message-capping.update",
        "chats.lock",
        "settings.update",
    }
    assert len(EVENT_NAMES) == 34  # every name Baileys declares (Types/Events.ts)


async def test_every_baileys_event_name_registers_and_delivers() -> None:
    """A ported Baileys app registers all its handlers without a ValueError, including for
    events wamd does not emit yet; each payload type is a frozen dataclass or a builtin."""
    from wamd.events import EVENT_NAMES, EventPayloads

    ev = EventEmitter()
    seen: list[str] = []
    for name in sorted(EVENT_NAMES):
        ev.on(name, lambda payload, name=name: seen.append(name))  # type: ignore[call-overload]
    for name in sorted(EVENT_NAMES):
        ev.emit(name, object())  # type: ignore[call-overload]
    assert seen == sorted(EVENT_NAMES)
    assert set(EventPayloads.__annotations__) == EVENT_NAMES


async def test_registration_returns_the_handler_itself() -> None:
    """The typed overloads change nothing at run time: ``on``/``once`` hand the handler back."""
    ev = EventEmitter()
    seen: list[object] = []

    def handler(payload: object) -> None:
        seen.append(payload)

    assert ev.on("call", handler) is handler
    assert ev.once("call", handler) is handler

    @ev.on("presence.update")
    async def decorated(payload: object) -> None:
        seen.append(("async", payload))

    assert decorated.__name__ == "decorated"  # the function, not a wrapper
    ev.emit("call", 1)
    ev.emit("call", 2)
    ev.emit("presence.update", 3)
    await ev.drain()
    assert seen == [1, 1, 2, ("async", 3)]
    with pytest.raises(ValueError, match="did you mean"):
        ev.once("cal", handler)  # type: ignore[call-overload]


async def test_a_given_logger_gets_the_handler_errors(caplog: pytest.LogCaptureFixture) -> None:
    mine = logging.getLogger("my.bot")
    ev = EventEmitter(logger=mine)

    def bad(_: object) -> None:
        raise RuntimeError("plain boom")

    async def bad_async(_: object) -> None:
        raise RuntimeError("async boom")

    ev.on("call", bad)
    ev.on("call", bad_async)
    with caplog.at_level(logging.ERROR):
        ev.emit("call", [])
        await ev.drain()
    assert {r.name for r in caplog.records} == {"my.bot"}
    assert {r.exc_info[1].args[0] for r in caplog.records if r.exc_info and r.exc_info[1]} == {
        "plain boom",
        "async boom",
    }
