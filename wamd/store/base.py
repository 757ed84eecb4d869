"""The transaction machinery every key store backend shares.

A backend implements four primitives:

- ``_begin()``: take the backend's exclusive write lock (a file lock, ``BEGIN IMMEDIATE``,
  or nothing for memory) — called with the in-process lock already held;
- ``_read(type, ids)``: committed values;
- ``_commit(writes)``: apply ``{type: {id: value | None}}`` atomically and release the lock;
- ``_rollback()``: release the lock without writing.

A backend may group commits instead (``_commit_grouped``: the writes are committed in this
process — every later transaction and read sees them — and a future says when they are
durable; many transactions' writes then share one fsync). ``transaction()`` still returns
only once its writes are durable; ``grouped_transaction()`` returns at once, and
``durable()`` waits for every commit made so far: what the receive path uses, so that the
next message is decrypted while the last one's commit reaches the disk, and its receipt
still goes out only after that.

A backend whose steps never suspend (memory) may also give them synchronously
(``_begin_now``, ``_read_now``, ``_commit_now``, ``_rollback_now``): while its
``_steps_now()`` says they stand in for its own awaitable steps, the base calls them
without an await (a coroutine each was a fair part of a memory transaction's cost). A
subclass, or a step replaced on the instance, is awaited as before.

This class turns them into the ``SignalKeyStore`` contract: transactions bound to the
running task; nested blocks in the same task join the outer one; reads inside see the
pending writes; an exception discards everything; ``set()`` outside a transaction is a
transaction of its own; a write that would put a different key under a stored prekey id
is refused (``PreKeyIdInUse``, the transaction rolled back). One transaction runs at a
time per store object (an asyncio lock), and across processes the backend's lock
serialises them, so a read-modify-write inside a transaction never loses an update.

The binding to the task is real: the open transaction is kept in a ``ContextVar`` *and*
names the task that opened it. A task created inside a transaction copies the context,
but it is another task, so it does not join: its ``set()`` or ``transaction()`` opens a
transaction of its own, which waits for the parent's to end. (So a task that awaits a
child task's store writes from inside its own transaction waits for itself; do the
writes in the same task, or after the block.)

``_outside_transactions()`` is what creds saves use: it waits for this store object's
current transaction (another task's) to end, and refuses with ``StoreError`` in a task
that has one open (waiting there would wait for itself). So a returned creds save never
rides in, or is discarded with, another task's key transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from threading import get_ident
from types import TracebackType
from typing import Any, TypeVar

from wamd.crypto import KeyPair
from wamd.errors import PreKeyIdInUse, StoreError
from wamd.store.types import KEY_TYPES

__all__ = [
    "TransactionalKeyStore",
    "Writes",
    "bound_to_task",
    "copy_value",
    "own_steps",
    "retrieve_failure",
]

Writes = dict[str, dict[str, Any]]
_T = TypeVar("_T")


def bound_to_task(tx: _T | None, task: object) -> _T | None:
    """``tx`` when it was opened by ``task`` (a ContextVar copied into a child task: None)."""
    if tx is None or getattr(tx, "task", None) is not task:
        return None
    return tx


class TransactionalKeyStore:
    """Base class: subclasses provide ``_begin``, ``_read``, ``_commit``, ``_rollback``."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._current: ContextVar[_TransactionBlock | None] = ContextVar(
            f"wamd-store-tx-{id(self)}", default=None
        )
        self._durable: asyncio.Future[None] | None = None  # the latest grouped commit's

    # ------------------------------------------------------------------ backend hooks

    async def _begin(self) -> None:
        """Take the backend's write lock (default: none needed)."""

    async def _read(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        raise NotImplementedError

    async def _commit(self, writes: Writes) -> None:
        raise NotImplementedError

    async def _rollback(self) -> None:
        """Release the backend's write lock without writing (default: nothing)."""

    # synchronous twins of the steps, for a backend whose steps never suspend (memory): the
    # base calls them instead of the awaitables only while ``_steps_now()`` says so

    def _steps_now(self) -> bool:
        """True when ``_begin_now``, ``_read_now``, ``_commit_now`` and ``_rollback_now``
        may stand in for ``_begin``, ``_read``, ``_commit`` and ``_rollback``: they do the
        same without suspending, and the awaitables in use are the backend's own (not a
        subclass's, not replaced on the instance). Asked for every transaction and every
        read; the default: no."""
        return False

    def _begin_now(self) -> None:
        """``_begin`` without suspending (default: nothing, as ``_begin``)."""

    def _read_now(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        raise NotImplementedError

    def _commit_now(self, writes: Writes) -> None:
        raise NotImplementedError

    def _rollback_now(self) -> None:
        """``_rollback`` without suspending (default: nothing, as ``_rollback``)."""

    async def _commit_grouped(
        self, writes: Writes, *, wait: bool = True
    ) -> asyncio.Future[None] | None:
        """Commit ``writes``; a future for their durability, or None when durable already
        (called instead of ``_commit`` where ``groups_commits`` is true)."""
        await self._commit(writes)
        return None

    groups_commits = False  # does _commit_grouped return before the writes are durable?

    def commit_pending(self) -> asyncio.Future[None] | None:
        """The latest grouped commit's durability, unless it is done and succeeded (a
        failed one is returned: awaiting it raises what made it fail)."""
        pending = self._durable
        if pending is None or (
            pending.done() and not pending.cancelled() and pending.exception() is None
        ):
            return None
        return pending

    async def durable(self) -> None:
        """Wait until every transaction committed so far on this store object is durable.

        Raises what made a grouped commit fail (its writes are then lost, as in a crash).
        """
        pending = self._durable
        if pending is not None:
            await asyncio.shield(pending)

    # ------------------------------------------------------------------ contract

    def _tx(self) -> _TransactionBlock | None:
        """The transaction the running task has open on this store, if any."""
        tx = self._current.get()
        if tx is None or tx.task is not _running_task(tx):
            return None
        return tx

    async def get(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        _check_type(type)
        tx = self._tx()
        if tx is None or type not in tx.writes:
            if self._steps_now():
                return self._read_now(type, list(ids))
            return await self._read(type, list(ids))
        pending = tx.writes[type]
        missing = [i for i in ids if i not in pending]
        if self._steps_now():
            result = self._read_now(type, missing)
        else:
            result = await self._read(type, missing)
        for i in ids:
            if i in pending:
                value = pending[i]
                if value is None:
                    result.pop(i, None)
                else:
                    result[i] = copy_value(value)
        return result

    async def set(self, data: Mapping[str, Mapping[str, Any | None]]) -> None:
        for type in data:
            _check_type(type)
        tx = self._tx()
        if tx is not None:
            _add(tx.writes, data)
            return
        block = self.transaction()
        async with block:
            if isinstance(block, _TransactionBlock) and block._mode != _JOINED:
                _add(block.writes, data)  # the transaction it opened (saves a call)
            else:
                await self.set(data)

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """A transaction bound to the running task (see the module docstring)."""
        return _TransactionBlock(self, wait=True)

    def grouped_transaction(self) -> AbstractAsyncContextManager[None]:
        """A transaction that returns once committed in this process, before it is durable
        (``durable()`` waits for that); nested in a transaction, it joins it."""
        return _TransactionBlock(self, wait=False)

    def _steps_inline_safe(self) -> bool:
        """True when ``_begin``, ``_commit``, ``_commit_grouped`` and ``_rollback`` may run
        in the caller's task, cut short by a cancellation at any await: they never
        suspend, or they give back whatever they took when cut short (a backend says
        so; the default: no, each runs to its end in a task of its own)."""
        return False

    async def _refuse_prekey_reuse(self, prekeys: dict[str, Any] | None) -> None:
        """``PreKeyIdInUse`` when a write would replace a stored prekey by a different one.

        A one-time prekey id is used once: a stored private key may belong to a public key
        the server already hands out. Writing the same key again, or deleting, is fine.
        Runs inside the transaction (the backend's write lock held), just before commit.
        """
        new = _new_prekeys(prekeys)
        if new:
            _refuse_clash(new, await self._read("pre-key", list(new)))

    def _refuse_prekey_reuse_now(self, prekeys: dict[str, Any] | None) -> None:
        """``_refuse_prekey_reuse`` through ``_read_now`` (where ``_steps_now()``)."""
        new = _new_prekeys(prekeys)
        if new:
            _refuse_clash(new, self._read_now("pre-key", list(new)))

    @property
    def in_transaction(self) -> bool:
        """Does the running task have a transaction open on this store?"""
        return self._tx() is not None

    @asynccontextmanager
    async def _outside_transactions(self, what: str) -> AsyncIterator[None]:
        """Run a write that must not join a key transaction (creds): wait for none to be open.

        Holds the store's transaction lock, so in this process no key transaction is open
        meanwhile; refuses in a task that has one open (it would wait for itself).
        """
        if self._tx() is not None:
            raise StoreError(
                f"{what} inside a key transaction of the same task would wait for that "
                "transaction: call it after the transaction block"
            )
        async with self._lock:
            yield


_JOINED, _AWAITED, _INLINE, _NOW = range(4)  # how a block runs the backend's steps


class _TransactionBlock:
    """``async with store.transaction()``: a class, not a generator, since every message
    opens one (the generator's machinery was a fair part of a memory store's cost).

    Joins the running task's open transaction if it has one; otherwise takes the store's
    lock and the backend's, and at the end commits the writes (or gives the locks back
    without writing when the block raised, or when it wrote nothing). A block that opens a
    transaction is that transaction: the store's ``ContextVar`` holds it, with the task
    that opened it and the pending writes.
    """

    __slots__ = ("_loop", "_mode", "_store", "_thread", "_token", "_wait", "task", "writes")
    _loop: asyncio.AbstractEventLoop | None  # set when it opens a transaction, as is _thread
    _thread: int

    def __init__(self, store: TransactionalKeyStore, *, wait: bool) -> None:
        self._store = store
        self._wait = wait  # False: a grouped transaction (see grouped_transaction())
        self._mode = _JOINED  # until it opens one (see __aenter__)
        self._token: Any = None
        self.task: asyncio.Task[Any] | None = None  # the task that opened it: only it is inside
        self.writes: Writes = {}

    async def __aenter__(self) -> None:
        store = self._store
        outer = store._current.get()
        task = asyncio.current_task() if outer is None else _running_task(outer)
        if outer is not None and outer.task is task:
            self._mode = _JOINED
            return  # nested in the same task: join the outer transaction
        if store._steps_now():  # synchronous steps: nothing below can be cut short
            await store._lock.acquire()
            try:
                store._begin_now()
            except BaseException:
                store._lock.release()
                raise
            mode = _NOW
        else:
            # steps that never suspend cannot be cut short by a cancellation: run them
            # inline (a task and a shield for each cost more than a memory store's whole
            # transaction)
            inline = store._steps_inline_safe()
            await store._lock.acquire()
            try:
                await _step(store._begin(), inline)
            except asyncio.CancelledError:
                # cancelled while the backend took its lock (a file lock, BEGIN): it may
                # hold it now, and nobody else would ever give it back
                with contextlib.suppress(Exception):
                    await _to_the_end(store._rollback())
                store._lock.release()
                raise
            except BaseException:
                store._lock.release()
                raise
            mode = _INLINE if inline else _AWAITED
        self._mode = mode
        self.task = task
        self._loop = task.get_loop() if task is not None else None
        self._thread = get_ident()
        self.writes = {}
        self._token = store._current.set(self)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        mode = self._mode
        if mode == _JOINED:
            return  # joined an outer transaction: it decides
        self._mode = _JOINED
        store = self._store
        if mode == _NOW:  # as below, without an await
            try:
                writes: Writes = {}
                if exc_type is None:
                    prekeys = self.writes.get("pre-key")
                    if prekeys:
                        try:
                            store._refuse_prekey_reuse_now(prekeys)
                        except BaseException:
                            store._current.reset(self._token)
                            store._rollback_now()
                            raise
                    writes = {t: v for t, v in self.writes.items() if v}
                store._current.reset(self._token)
                if writes:
                    store._commit_now(writes)
                else:
                    store._rollback_now()
            finally:
                store._lock.release()
            return
        inline = mode == _INLINE
        durable: asyncio.Future[None] | None = None
        try:
            prekeys = self.writes.get("pre-key") if exc_type is None else None
            if prekeys:
                try:
                    await store._refuse_prekey_reuse(prekeys)
                except BaseException:
                    store._current.reset(self._token)
                    await _step(store._rollback(), inline)
                    raise
            store._current.reset(self._token)
            if exc_type is not None:
                await _step(store._rollback(), inline)
                return
            writes = {t: v for t, v in self.writes.items() if v}
            if not writes:
                await _step(store._rollback(), inline)
            elif store.groups_commits:
                durable = await _step(store._commit_grouped(writes, wait=self._wait), inline)
            else:
                await _step(store._commit(writes), inline)
        finally:
            store._lock.release()
        if durable is not None:
            store._durable = durable
            if self._wait:  # outside the lock: the next transaction joins the next group
                await asyncio.shield(durable)


_STEPS = frozenset(("_begin", "_commit", "_commit_grouped", "_rollback"))


def own_steps(store: TransactionalKeyStore, cls: type[TransactionalKeyStore]) -> bool:
    """Are ``store``'s transaction steps ``cls``'s own? A subclass, or a step replaced
    on the instance (as tests do to slow a commit down), may await anything. (Asked
    for every transaction: an instance attribute shadows a method only from the
    instance's ``__dict__``.)"""
    return type(store) is cls and _STEPS.isdisjoint(store.__dict__)


def retrieve_failure(future: asyncio.Future[Any]) -> None:
    """Mark a grouped commit's failure as seen (it is raised to whoever waits, if anyone)."""
    if not future.cancelled():
        future.exception()


_IMMUTABLE = (bytes, str, int, float, bool, type(None), KeyPair)


def copy_value(value: Any) -> Any:
    """A copy of a stored value that shares nothing mutable with the original.

    Faster than ``copy.deepcopy`` for what stores hold (bytes, strings, numbers and
    key pairs, in dicts and lists): immutable leaves are shared, not copied.
    """
    if isinstance(value, _IMMUTABLE):
        return value
    if isinstance(value, dict):
        return {k: copy_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_value(v) for v in value]
    return copy.deepcopy(value)


def _running_task(tx: _TransactionBlock) -> asyncio.Task[Any] | None:
    """``asyncio.current_task()``, without its ``get_running_loop`` (a ``getpid`` system
    call in 3.11) when running in the thread that opened ``tx``: the loop it was opened in
    has a current task there only while it is the loop running there."""
    loop = tx._loop
    if loop is not None and tx._thread == get_ident():
        return asyncio.current_task(loop)
    return asyncio.current_task()


def _add(writes: Writes, data: Mapping[str, Mapping[str, Any | None]]) -> None:
    """Add ``data`` (copied) to a transaction's pending ``writes``."""
    for type, values in data.items():
        writes.setdefault(type, {}).update({k: copy_value(v) for k, v in values.items()})


def _new_prekeys(prekeys: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (prekeys or {}).items() if v is not None}


def _refuse_clash(new: dict[str, Any], stored: dict[str, Any]) -> None:
    clash = [k for k, v in stored.items() if v != new[k]]
    if clash:
        raise PreKeyIdInUse(tuple(sorted(clash, key=lambda k: (len(k), k))))


def _check_type(type: str) -> None:
    if type not in KEY_TYPES:
        raise ValueError(f"unknown key type {type!r}; expected one of {', '.join(KEY_TYPES)}")


def _step(step: Awaitable[_T], inline: bool) -> Awaitable[_T]:
    """``step`` itself (run in the caller's task) or run to its end (``_to_the_end``)."""
    return step if inline else _to_the_end(step)


async def _to_the_end(step: Awaitable[_T]) -> _T:
    """Run a backend step (begin, commit, rollback) to its end even when the caller is
    cancelled meanwhile, then let the cancellation through.

    Each step takes or gives back the backend's lock in a worker thread or on the
    database; abandoned half-way, a taken lock was never given back and every later
    transaction of the process waited for it forever (a socket's work is cancelled when
    its connection ends, so this happened under faults).
    """
    job = asyncio.ensure_future(step)
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        with contextlib.suppress(BaseException):
            await job
        raise
