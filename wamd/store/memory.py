"""An in-memory key store: for tests and short-lived processes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wamd.store.base import TransactionalKeyStore, Writes, copy_value, own_steps

__all__ = ["MemoryKeyStore"]


class MemoryKeyStore(TransactionalKeyStore):
    """Keeps everything in a dict; transactions are atomic within the process."""

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[str, dict[str, Any]] = {}
        self.aside: list[tuple[str, str, Any]] = []  # (type, id, value) set aside

    def _steps_inline_safe(self) -> bool:
        return own_steps(self, MemoryKeyStore)  # they never suspend

    async def set_aside(self, type: str, key_id: str) -> str:
        """Move one key out of the way (into ``aside``); where it went."""
        async with self.transaction():
            value = self.data.get(type, {}).pop(key_id, None)
            if value is not None:
                self.aside.append((type, key_id, value))
        return "memory (MemoryKeyStore.aside)"

    async def _read(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        table = self.data.get(type, {})
        return {i: copy_value(table[i]) for i in ids if i in table}

    async def _commit(self, writes: Writes) -> None:
        for type, values in writes.items():
            table = self.data.setdefault(type, {})
            for key, value in values.items():
                if value is None:
                    table.pop(key, None)
                else:
                    table[key] = value
