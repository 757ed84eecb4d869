"""An in-memory key store: for tests and short-lived processes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wamd.store.base import TransactionalKeyStore, Writes, copy_value, own_steps

__all__ = ["MemoryKeyStore"]

# what the synchronous steps stand in for: replaced on the instance, they are awaited
_TWINNED_STEPS = frozenset(
    ("_begin", "_read", "_commit", "_commit_grouped", "_rollback", "_refuse_prekey_reuse")
)


class MemoryKeyStore(TransactionalKeyStore):
    """Keeps everything in a dict; transactions are atomic within the process."""

    def __init__(self) -> None:
        self._own_steps = type(self) is MemoryKeyStore  # kept by __setattr__, __delattr__
        super().__init__()
        self.data: dict[str, dict[str, Any]] = {}
        self.aside: list[tuple[str, str, Any]] = []  # (type, id, value) set aside

    def _steps_inline_safe(self) -> bool:
        return own_steps(self, MemoryKeyStore)  # they never suspend

    def _steps_now(self) -> bool:
        # a subclass, or a step replaced on the instance (as tests do to slow a commit
        # down), may await anything: then every step is awaited. Asked for every read, so
        # the answer is kept, and asked again when such an attribute is set or deleted.
        return self._own_steps

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name in _TWINNED_STEPS or name == "__class__":
            self._recheck_steps()

    def __delattr__(self, name: str) -> None:
        super().__delattr__(name)
        if name in _TWINNED_STEPS:
            self._recheck_steps()

    def _recheck_steps(self) -> None:
        own = type(self) is MemoryKeyStore and _TWINNED_STEPS.isdisjoint(self.__dict__)
        object.__setattr__(self, "_own_steps", own)

    async def set_aside(self, type: str, key_id: str) -> str:
        """Move one key out of the way (into ``aside``); where it went."""
        async with self.transaction():
            value = self.data.get(type, {}).pop(key_id, None)
            if value is not None:
                self.aside.append((type, key_id, value))
        return "memory (MemoryKeyStore.aside)"

    async def _read(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        return self._read_now(type, ids)

    async def _commit(self, writes: Writes) -> None:
        self._commit_now(writes)

    def _read_now(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        table = self.data.get(type, {})
        return {i: copy_value(table[i]) for i in ids if i in table}

    def _commit_now(self, writes: Writes) -> None:
        for type, values in writes.items():
            table = self.data.setdefault(type, {})
            for key, value in values.items():
                if value is None:
                    table.pop(key, None)
                else:
                    table[key] = value
