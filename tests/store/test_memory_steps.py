"""A memory store runs its steps inline only while they are its own (they never suspend)."""

from __future__ import annotations

import asyncio
from typing import Any

from wamd.store import MemoryKeyStore


async def test_a_commit_replaced_on_the_instance_runs_to_its_end_when_cancelled() -> None:
    store = MemoryKeyStore()
    real = store._commit
    started = asyncio.Event()

    async def slow_commit(writes: dict[str, dict[str, Any]]) -> None:
        started.set()
        await asyncio.sleep(0.05)  # a commit that suspends: the caller is cancelled here
        await real(writes)

    store._commit = slow_commit  # type: ignore[method-assign]

    async def write() -> None:
        async with store.transaction():
            await store.set({"session": {"a": b"1"}})

    task = asyncio.create_task(write())
    await started.wait()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    # the commit was not cut short half-way: it ran to its end, and the lock came back
    assert await store.get("session", ["a"]) == {"a": b"1"}
    async with asyncio.timeout(1):
        async with store.transaction():
            pass
