"""A memory store runs its transactions without awaiting its steps (``_begin_now``,
``_read_now``, ``_commit_now``, ``_rollback_now``) only while the steps are its own: a
subclass, or a step replaced on the instance, is awaited as any backend's."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from wamd.crypto import generate_keypair
from wamd.errors import PreKeyIdInUse
from wamd.store import MemoryKeyStore
from wamd.store.base import Writes


async def test_a_commit_replaced_on_the_instance_is_awaited() -> None:
    store = MemoryKeyStore()
    assert store._steps_now()
    real = store._commit
    seen: list[Writes] = []

    async def commit(writes: Writes) -> None:
        seen.append(writes)
        await asyncio.sleep(0)  # a step that suspends
        await real(writes)

    store._commit = commit  # type: ignore[method-assign]
    assert not store._steps_now()
    async with store.transaction():
        await store.set({"session": {"a": b"1"}})
    await store.set({"session": {"b": b"2"}})  # set() outside: a transaction of its own
    assert seen == [{"session": {"a": b"1"}}, {"session": {"b": b"2"}}]

    del store._commit  # as monkeypatch gives it back: the memory store's own steps again
    assert store._steps_now()
    async with store.transaction():
        await store.set({"session": {"c": b"3"}})
    assert len(seen) == 2
    assert store.data["session"] == {"a": b"1", "b": b"2", "c": b"3"}


async def test_a_read_replaced_on_the_instance_is_awaited_inside_and_outside(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = MemoryKeyStore()
    await store.set({"session": {"a": b"1", "b": b"2"}, "pre-key": {"1": generate_keypair()}})
    real = store._read
    asked: list[tuple[str, list[str]]] = []

    async def read(type: str, ids: Sequence[str]) -> dict[str, Any]:
        asked.append((type, list(ids)))
        return await real(type, ids)

    monkeypatch.setattr(store, "_read", read)
    assert await store.get("session", ["a"]) == {"a": b"1"}
    async with store.transaction():
        await store.set({"session": {"a": b"new"}})
        assert await store.get("session", ["a", "b"]) == {"a": b"new", "b": b"2"}
        await store.set({"pre-key": {"9": generate_keypair()}})
    # the prekey check before the commit read through it too
    assert asked == [("session", ["a"]), ("session", ["b"]), ("pre-key", ["9"])]
    monkeypatch.undo()
    assert store._steps_now()
    assert await store.get("session", ["a"]) == {"a": b"new"}
    assert len(asked) == 3


async def test_a_subclass_steps_are_awaited() -> None:
    committed: list[Writes] = []

    class Recording(MemoryKeyStore):
        async def _commit(self, writes: Writes) -> None:
            committed.append(writes)
            await super()._commit(writes)

    store = Recording()
    assert not store._steps_now()
    await store.set({"session": {"a": b"1"}})
    assert committed == [{"session": {"a": b"1"}}]
    plain = MemoryKeyStore()
    plain.__class__ = Recording  # a class changed on the instance counts too
    assert not plain._steps_now()


async def test_writes_without_awaited_steps_are_visible_inside_and_atomic() -> None:
    store = MemoryKeyStore()
    assert store._steps_now()
    await store.set({"session": {"a": b"old"}, "identity-key": {"a": b"id-old"}})
    inside = asyncio.Event()
    release = asyncio.Event()

    async def writer() -> None:
        async with store.transaction():
            await store.set({"session": {"a": b"new", "b": b"2"}})
            await store.set({"identity-key": {"a": None}})
            assert await store.get("session", ["a", "b"]) == {"a": b"new", "b": b"2"}
            assert await store.get("identity-key", ["a"]) == {}
            inside.set()
            await release.wait()

    task = asyncio.create_task(writer())
    await inside.wait()
    # another task sees none of it before the commit
    assert await store.get("session", ["a", "b"]) == {"a": b"old"}
    assert await store.get("identity-key", ["a"]) == {"a": b"id-old"}
    assert store.data == {"session": {"a": b"old"}, "identity-key": {"a": b"id-old"}}
    release.set()
    await task
    assert store.data == {"session": {"a": b"new", "b": b"2"}, "identity-key": {}}


async def test_without_awaited_steps_a_failure_discards_every_write() -> None:
    store = MemoryKeyStore()
    held = generate_keypair()
    await store.set({"pre-key": {"1": held}, "session": {"a": b"old"}})

    with pytest.raises(RuntimeError):
        async with store.transaction():
            await store.set({"session": {"a": b"new"}, "sender-key": {"g": b"k"}})
            raise RuntimeError("the block failed")
    with pytest.raises(PreKeyIdInUse):
        async with store.transaction():
            await store.set({"session": {"a": b"new"}})
            await store.set({"pre-key": {"1": generate_keypair(), "2": generate_keypair()}})
    assert store.data == {"pre-key": {"1": held}, "session": {"a": b"old"}}
    # and the lock came back each time
    async with asyncio.timeout(1):
        await store.set({"session": {"a": b"after"}})
    assert store.data["session"] == {"a": b"after"}
    assert not store.in_transaction


async def test_a_thread_with_the_context_copied_is_not_inside() -> None:
    """The open transaction names its task; a coroutine in another thread's loop, with the
    context copied while the opening task is running (not suspended), is not that task."""
    store = MemoryKeyStore()
    seen: list[Any] = []

    async def probe() -> None:
        seen.append(store.in_transaction)
        seen.append(await store.get("session", ["a"]))

    async with store.transaction():
        await store.set({"session": {"a": b"pending"}})
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(asyncio.run, probe()))
        thread.start()
        thread.join()  # blocking: this task is its loop's current task meanwhile
        assert store.in_transaction
    assert seen == [False, {}]
