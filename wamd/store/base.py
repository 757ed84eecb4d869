"""The transaction machinery every key store backend shares.

A backend implements four primitives:

- ``_begin()``: take the backend's exclusive write lock (a file lock, ``BEGIN IMMEDIATE``,
  or nothing for memory) — called with the in-process lock already held;
- ``_read(type, ids)``: committed values;
- ``_commit(writes)``: apply ``{type: {id: value | None}}`` atomically and release the lock;
- ``_rollback()``: release the lock without writing.

This class turns them into the ``SignalKeyStore`` contract: transactions bound to the
running task through a ``ContextVar``; nested blocks join the outer one; reads inside see
the pending writes; an exception discards everything; ``set()`` outside a transaction is a
transaction of its own. One transaction runs at a time per store object (an asyncio
lock), and across processes the backend's lock serialises them, so a read-modify-write
inside a transaction never loses an update.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from wamd.crypto import KeyPair
from wamd.store.types import KEY_TYPES

__all__ = ["TransactionalKeyStore", "Writes"]

Writes = dict[str, dict[str, Any]]


class _Transaction:
    __slots__ = ("store", "writes")

    def __init__(self, store: TransactionalKeyStore) -> None:
        self.store = store
        self.writes: Writes = {}


class TransactionalKeyStore:
    """Base class: subclasses provide ``_begin``, ``_read``, ``_commit``, ``_rollback``."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._current: ContextVar[_Transaction | None] = ContextVar(
            f"wamd-store-tx-{id(self)}", default=None
        )

    # ------------------------------------------------------------------ backend hooks

    async def _begin(self) -> None:
        """Take the backend's write lock (default: none needed)."""

    async def _read(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        raise NotImplementedError

    async def _commit(self, writes: Writes) -> None:
        raise NotImplementedError

    async def _rollback(self) -> None:
        """Release the backend's write lock without writing (default: nothing)."""

    # ------------------------------------------------------------------ contract

    async def get(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        _check_type(type)
        tx = self._current.get()
        if tx is None or type not in tx.writes:
            return await self._read(type, list(ids))
        pending = tx.writes[type]
        result = await self._read(type, [i for i in ids if i not in pending])
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
        tx = self._current.get()
        if tx is not None:
            for type, values in data.items():
                tx.writes.setdefault(type, {}).update(copy_value(dict(values)))
            return
        async with self.transaction():
            await self.set(data)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        if self._current.get() is not None:  # nested: join the outer transaction
            yield
            return
        async with self._lock:
            await self._begin()
            tx = _Transaction(self)
            token = self._current.set(tx)
            try:
                yield
            except BaseException:
                self._current.reset(token)
                await self._rollback()
                raise
            self._current.reset(token)
            writes = {t: v for t, v in tx.writes.items() if v}
            if writes:
                await self._commit(writes)
            else:
                await self._rollback()

    @property
    def in_transaction(self) -> bool:
        return self._current.get() is not None


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


def _check_type(type: str) -> None:
    if type not in KEY_TYPES:
        raise ValueError(f"unknown key type {type!r}; expected one of {', '.join(KEY_TYPES)}")
