"""Ordered work per key: one task per busy key, so one slow chat never stalls the others.

Stanzas of one chat are handled in arrival order (and sends to one chat keep their
order); different chats run concurrently. A lesson from whatsmeow's single global
queue, where one slow handler stalls every chat.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

__all__ = ["KeyedWorkers"]

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class KeyedWorkers:
    def __init__(self) -> None:
        self._queues: dict[str, deque[Job]] = {}
        self._drops: dict[Job, Callable[[], None]] = {}  # run for a job that never runs
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, key: str, job: Job, on_drop: Callable[[], None] | None = None) -> None:
        """Run ``job`` after every job already submitted under ``key``; ``on_drop`` is
        called instead if the workers are cancelled before the job started."""
        queue = self._queues.setdefault(key, deque())
        queue.append(job)
        if on_drop is not None:
            self._drops[job] = on_drop
        if key not in self._tasks:
            self._idle.clear()
            self._tasks[key] = asyncio.get_running_loop().create_task(self._run(key, queue))

    async def _run(self, key: str, queue: deque[Job]) -> None:
        try:
            while queue:
                job = queue.popleft()
                self._drops.pop(job, None)
                try:
                    await job()
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if task is None or task.cancelling():
                        raise  # this worker is being cancelled: its connection ended
                    # the job awaited a future someone else cancelled: that job is over,
                    # the chat's later work is not (a dead worker would strand its queue)
                    log.error("work for %s was cut short by a cancelled wait", key)
                except Exception:
                    log.exception("handling work for %s failed", key)
        finally:
            self._tasks.pop(key, None)
            if not queue:
                self._queues.pop(key, None)
            if not self._tasks:
                self._idle.set()

    async def join(self) -> None:
        """Wait until every submitted job has run."""
        await self._idle.wait()

    def busy(self, key: str) -> bool:
        """Has ``key`` a job running or waiting?"""
        return key in self._tasks

    def tasks(self) -> set[asyncio.Task[None]]:
        """The workers running now (one per busy key)."""
        return set(self._tasks.values())

    def cancel(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        self._tasks.clear()
        self._queues.clear()
        drops, self._drops = self._drops, {}
        for on_drop in drops.values():
            try:
                on_drop()
            except Exception:
                log.exception("cleaning up dropped work failed")
        self._idle.set()
