"""The key store contract shared by every backend and by the Signal layer.

The shape follows Baileys' ``SignalKeyStore`` (users know it): ``get(type, ids)`` reads
many ids of one type, ``set({type: {id: value | None}})`` writes or deletes many at once.
Unlike Baileys, transactions are part of the contract and are *atomic* in every backend:

    async with keys.transaction():
        sessions = await keys.get("session", [addr])
        ...
        await keys.set({"session": {addr: new_record}, "pre-key": {"17": None}})
    # committed here, all or nothing; an exception inside discards every write

Inside a transaction, reads see the transaction's own pending writes. Transactions are
bound to the running asyncio task (a ``contextvars`` context), so two tasks each have
their own; nested ``transaction()`` blocks join the outer one. Transactions are
*exclusive*: one at a time per store (a second task waits), and across processes sharing
the same data. The Signal layer relies on it as its only lock (``SignalRepository``), so a
backend must not run two transactions concurrently.

Values are plain data: ``bytes``, ``str``, ``int``, ``bool``, ``None``, lists and
``str``-keyed dicts of those, and ``KeyPair``. Each backend serialises them so that they
round-trip exactly (``bytes`` stay ``bytes``).

Key types and what they hold (ids are strings):

================== ====================================== ===================================
type               id                                     value
================== ====================================== ===================================
pre-key            prekey id, decimal ("17")              KeyPair
session            signal address ("15551234567.2")       bytes (serialised session record)
sender-key         "<group jid>::<signal address>"        bytes (serialised sender key record)
sender-key-memory  group jid                              dict[address, bool]: who has our key
identity-key       signal address                         bytes (33-byte identity public key)
app-state-sync-key key id (base64)                        dict (keyData, fingerprint, timestamp)
app-state-sync-ver collection name                        dict (version, hash, index_value_map)
lid-mapping        pn user ("15551234567") / "<lid>_reverse"  str (lid user / pn user)
message-secret     message id (a poll's) / ring slots     dict (secret, chat, creator, options)
tctoken            user JID ("1555...@s.whatsapp.net")    dict (token, t, sender_t)
================== ====================================== ===================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, Literal, Protocol, runtime_checkable

__all__ = ["KEY_TYPES", "KeyType", "SignalKeyStore"]

KeyType = Literal[
    "pre-key",
    "session",
    "sender-key",
    "sender-key-memory",
    "identity-key",
    "app-state-sync-key",
    "app-state-sync-version",
    "lid-mapping",
    "event-buffer",
    "sent-message",
    "message-secret",
    "tctoken",
]

KEY_TYPES: Final[tuple[str, ...]] = (
    "pre-key",
    "session",
    "sender-key",
    "sender-key-memory",
    "identity-key",
    "app-state-sync-key",
    "app-state-sync-version",
    "lid-mapping",
    "event-buffer",  # decrypted, not yet handled incoming messages (crash recovery)
    "sent-message",  # messages we sent, kept for peers' retry receipts
    "message-secret",  # polls' message secrets, to decrypt (and cast) votes
    "tctoken",  # privacy tokens: ours from peers, and when we issued ours to them
)


@runtime_checkable
class SignalKeyStore(Protocol):
    """What the Signal layer and the client need from a key store."""

    async def get(self, type: str, ids: Sequence[str]) -> dict[str, Any]:
        """Values for those ids of one type; ids with no value are absent from the result."""
        ...

    async def set(self, data: Mapping[str, Mapping[str, Any | None]]) -> None:
        """Write ``{type: {id: value}}``; a value of ``None`` deletes that id."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """An atomic unit of work bound to the current task (see the module docstring)."""
        ...
