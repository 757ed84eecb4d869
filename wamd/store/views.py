"""Typed views over the generic key store: one small class per thing the client keeps.

The key store speaks ``{type: {id: value}}`` with untyped values; these views give each
use its own few typed methods and keep the layout on disk exactly as before (Baileys'
where Baileys has the type, see the table in ``wamd.store.types``):

- ``PreKeys`` (``pre-key``): ``"17" -> KeyPair``;
- ``LidMap`` (``lid-mapping``): ``PN_USER -> LID_USER`` and ``"LID_USER_reverse" -> PN_USER``;
- ``SenderKeyMemory`` (``sender-key-memory``): ``group jid -> {device: True}``;
- ``SentMessages`` (``sent-message``): ``mid -> {"chat", "message", "t"}``, a ring of
  ``keep`` slots ``"slot-N" -> mid`` and ``"ring" -> {"next": n}``;
- ``EventBuffer`` (``event-buffer``): ``buffer id -> {"plaintext", "id", "t"}``;
- ``MessageSecrets`` (``message-secret``): ``poll id -> {"secret", "chat", "creator",
  "creator_alt", "options"}``, a ring of ``keep`` slots as ``SentMessages`` has;
- ``PrivacyTokens`` (``tctoken``): ``user JID -> {"token", "t", "sender_t"}``.
- ``AppStateKeys`` (``app-state-sync-key``): ``base64 key id -> {"keyData",
  "fingerprint", "timestamp"}`` (Baileys' layout);
- ``AppStateVersions`` (``app-state-sync-version``): ``collection -> {"version", "hash",
  "index_value_map": {base64 index MAC: value MAC}}``, one value per collection, so that
  a collection's version, hash and MACs are always written together.

Each view is a thin wrapper: it holds the store and nothing else (no cache, no state of
its own), so several views over one store, in one or several processes, agree. Methods
that read and then write run in one store transaction; inside a caller's transaction
they join it (the store's rule for nested blocks).

A stored value of the wrong shape reads as absent (a view never raises on what another
version or a hand edit left behind) except where that would hide a reuse: ``PreKeys``
treats any value under a prekey id as "in use".
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, NamedTuple

from wamd.appstate.codec import CollectionState
from wamd.appstate.lthash import HASH_SIZE
from wamd.crypto import KeyPair
from wamd.errors import PreKeyIdInUse
from wamd.store.types import SignalKeyStore

__all__ = [
    "SENT_KEEP",
    "AppStateKey",
    "AppStateKeys",
    "AppStateVersions",
    "BufferedMessage",
    "EventBuffer",
    "LidMap",
    "MessageSecrets",
    "PreKeyIdInUse",
    "PreKeys",
    "PrivacyToken",
    "PrivacyTokens",
    "SenderKeyMemory",
    "SentMessage",
    "SentMessages",
    "StoredSecret",
]

SENT_KEEP: Final = 2048  # sent messages kept for peers' retry receipts (the client's ring)
SECRETS_KEEP: Final = 4096  # polls whose message secrets are kept (the oldest forgotten)


# ---------------------------------------------------------------------- prekeys


class PreKeys:
    """One-time prekeys (``pre-key``): ids are never reused while a key is stored.

    ``PreKeyIdInUse`` (from ``wamd.errors``) is re-exported here.
    """

    TYPE: Final = "pre-key"

    def __init__(self, keys: SignalKeyStore) -> None:
        self.keys = keys

    async def get(self, key_id: int) -> KeyPair | None:
        value = (await self.keys.get(self.TYPE, [str(key_id)])).get(str(key_id))
        return value if isinstance(value, KeyPair) else None

    async def in_use(self, key_ids: Iterable[int]) -> list[int]:
        """Those of ``key_ids`` that hold a stored value (of any shape), in order."""
        wanted = [str(i) for i in key_ids]
        stored = await self.keys.get(self.TYPE, wanted)
        return [int(i) for i in wanted if i in stored]

    async def next_free_id(self, start: int, count: int) -> int:
        """The first id ``>= start`` from which ``count`` ids hold no stored key.

        ``start`` is ``creds.next_pre_key_id``. When creds were saved behind the keys (a
        crash between storing a batch and saving the creds), the stored batch is skipped
        over instead of being overwritten.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        start = max(start, 1)
        while True:
            used = await self.in_use(range(start, start + count))
            if not used:
                return start
            start = max(used) + 1

    async def add(self, new: Sequence[tuple[int, KeyPair]]) -> None:
        """Store new prekeys, all or none; ``PreKeyIdInUse`` if any id already holds one."""
        async with self.keys.transaction():
            used = await self.in_use(i for i, _ in new)
            if used:  # the store would refuse a different key; refuse the same one too
                raise PreKeyIdInUse(tuple(str(i) for i in used))
            await self.keys.set({self.TYPE: {str(i): pair for i, pair in new}})

    async def remove(self, key_ids: Iterable[int]) -> None:
        await self.keys.set({self.TYPE: {str(i): None for i in key_ids}})


# ---------------------------------------------------------------------- lid mapping


class LidMap:
    """Phone-number user <-> lid user (``lid-mapping``, Baileys' layout), users not JIDs."""

    TYPE: Final = "lid-mapping"

    def __init__(self, keys: SignalKeyStore) -> None:
        self.keys = keys

    @staticmethod
    def reverse_id(lid_user: str) -> str:
        return f"{lid_user}_reverse"

    async def learn(self, pn_user: str, lid_user: str) -> None:
        """Store both directions at once."""
        await self.keys.set({self.TYPE: {pn_user: lid_user, self.reverse_id(lid_user): pn_user}})

    async def lid_for(self, pn_user: str) -> str | None:
        return (await self.lids_for([pn_user])).get(pn_user)

    async def pn_for(self, lid_user: str) -> str | None:
        return (await self.pns_for([lid_user])).get(lid_user)

    async def lids_for(self, pn_users: Sequence[str]) -> dict[str, str]:
        """``{pn user: lid user}`` for those that are known."""
        stored = await self.keys.get(self.TYPE, list(pn_users))
        return {u: v for u, v in stored.items() if isinstance(v, str)}

    async def pns_for(self, lid_users: Sequence[str]) -> dict[str, str]:
        """``{lid user: pn user}`` for those that are known."""
        ids = {self.reverse_id(u): u for u in lid_users}
        stored = await self.keys.get(self.TYPE, list(ids))
        return {ids[i]: v for i, v in stored.items() if isinstance(v, str)}


# ---------------------------------------------------------------------- sender-key memory


class SenderKeyMemory:
    """Which devices have our sender key for a group (``sender-key-memory``)."""

    TYPE: Final = "sender-key-memory"

    def __init__(self, keys: SignalKeyStore) -> None:
        self.keys = keys

    async def get(self, group: str) -> dict[str, bool]:
        value = (await self.keys.get(self.TYPE, [group])).get(group)
        if not isinstance(value, dict):
            return {}
        return {k: v for k, v in value.items() if isinstance(k, str) and v is True}

    async def needing(self, group: str, devices: Iterable[str]) -> list[str]:
        """Those of ``devices`` (signal addresses or device JIDs, as stored) lacking our key."""
        have = await self.get(group)
        return [d for d in devices if not have.get(d)]

    async def mark(self, group: str, devices: Iterable[str]) -> None:
        """Record that ``devices`` now have our key (added to those that had it)."""
        added = list(devices)
        if not added:
            return
        async with self.keys.transaction():
            memory = await self.get(group)
            memory.update(dict.fromkeys(added, True))
            await self.keys.set({self.TYPE: {group: memory}})

    async def forget(self, group: str) -> None:
        """Nobody has our key any more (it was replaced)."""
        await self.keys.set({self.TYPE: {group: None}})


# ---------------------------------------------------------------------- sent messages


class SentMessage(NamedTuple):
    chat: str  # the chat JID, as a string
    message: bytes  # the serialised e2e Message
    timestamp: int


class SentMessages:
    """The last ``keep`` messages we sent, for answering peers' retry receipts."""

    TYPE: Final = "sent-message"

    def __init__(self, keys: SignalKeyStore, keep: int = SENT_KEEP) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.keys = keys
        self.keep = keep

    async def remember(self, mid: str, chat: str, message: bytes, timestamp: int) -> None:
        """Keep ``message``; the oldest one is forgotten once ``keep`` are kept.

        In a grouped transaction where the store has them: it returns once committed,
        and is durable with the store's next durable commit, which for a send is its
        encryption (that one waits), before the message goes out."""
        async with _grouped(self.keys):
            ring = (await self.keys.get(self.TYPE, ["ring"])).get("ring")
            seq = ring.get("next") if isinstance(ring, dict) else None
            seq = seq if isinstance(seq, int) and seq >= 0 else 0
            slot = f"slot-{seq % self.keep}"
            old = (await self.keys.get(self.TYPE, [slot])).get(slot)
            writes: dict[str, Any] = {
                mid: {"chat": chat, "message": message, "t": timestamp},
                slot: mid,
                "ring": {"next": seq + 1},
            }
            if isinstance(old, str) and old != mid:
                writes[old] = None
            await self.keys.set({self.TYPE: writes})

    async def get(self, mid: str) -> SentMessage | None:
        value = (await self.keys.get(self.TYPE, [mid])).get(mid)
        if not isinstance(value, dict):
            return None
        chat, message, t = value.get("chat"), value.get("message"), value.get("t", 0)
        if not isinstance(chat, str) or not isinstance(message, bytes) or not isinstance(t, int):
            return None
        return SentMessage(chat, message, t)


# ---------------------------------------------------------------------- event buffer


class BufferedMessage(NamedTuple):
    plaintext: bytes  # the decrypted, serialised e2e Message
    message_id: str
    timestamp: int


class EventBuffer:
    """Decrypted incoming messages not yet handled by the application (``event-buffer``).

    A message is put here in the same transaction that advances its Signal session, and
    dropped once the application has it: a crash in between finds the plaintext here
    when the server redelivers, instead of a session that can no longer decrypt it.
    """

    TYPE: Final = "event-buffer"

    def __init__(self, keys: SignalKeyStore) -> None:
        self.keys = keys

    async def get(self, buffer_id: str) -> BufferedMessage | None:
        value = (await self.keys.get(self.TYPE, [buffer_id])).get(buffer_id)
        return _buffered(value)

    async def get_many(self, buffer_ids: Sequence[str]) -> dict[str, BufferedMessage]:
        stored = await self.keys.get(self.TYPE, list(buffer_ids))
        out = {i: _buffered(v) for i, v in stored.items()}
        return {i: v for i, v in out.items() if v is not None}

    async def put(self, buffer_id: str, plaintext: bytes, message_id: str, timestamp: int) -> None:
        await self.keys.set(
            {self.TYPE: {buffer_id: {"plaintext": plaintext, "id": message_id, "t": timestamp}}}
        )

    async def drop(self, buffer_ids: Iterable[str], *, grouped: bool = False) -> None:
        """Forget these; ``grouped``: in a grouped transaction where the store has them
        (``durable()`` then says when the removal is on disk)."""
        ids = list(buffer_ids)
        if not ids:
            return
        if not grouped:  # a set outside a transaction is one
            await self.keys.set({self.TYPE: dict.fromkeys(ids)})
            return
        async with _grouped(self.keys):
            await self.keys.set({self.TYPE: dict.fromkeys(ids)})


def _grouped(keys: SignalKeyStore) -> AbstractAsyncContextManager[None]:
    """A grouped transaction where the store has them (committed at once, durable with a
    later durable commit), else a plain one."""
    group = getattr(keys, "grouped_transaction", None)
    return group() if group is not None else keys.transaction()


def _buffered(value: Mapping[str, Any] | Any) -> BufferedMessage | None:
    if not isinstance(value, dict) or not isinstance(value.get("plaintext"), bytes):
        return None
    mid, t = value.get("id", ""), value.get("t", 0)
    return BufferedMessage(
        value["plaintext"], mid if isinstance(mid, str) else "", t if isinstance(t, int) else 0
    )


# ---------------------------------------------------------------------- message secrets


class StoredSecret(NamedTuple):
    """A poll's message secret as kept (``wamd.messaging.polls.PollSecret``'s fields)."""

    poll_id: str
    chat: str
    creator: str
    options: tuple[str, ...]
    secret: bytes
    creator_alt: str | None = None

    def __repr__(self) -> str:  # the secret is key material
        return (
            f"StoredSecret(poll_id={self.poll_id!r}, chat={self.chat!r}, creator={self.creator!r})"
        )


class MessageSecrets:
    """Polls' message secrets, the last ``keep`` of them."""

    TYPE: Final = "message-secret"

    def __init__(self, keys: SignalKeyStore, keep: int = SECRETS_KEEP) -> None:
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.keys = keys
        self.keep = keep

    async def remember(self, poll: StoredSecret) -> None:
        """Keep ``poll``'s secret; a poll id already kept is not replaced (a later message
        reusing the id cannot take over a poll's votes)."""
        if poll.poll_id in ("ring",) or poll.poll_id.startswith("slot-"):
            return
        async with self.keys.transaction():
            held = await self.keys.get(self.TYPE, [poll.poll_id, "ring"])
            if poll.poll_id in held:
                return
            ring = held.get("ring")
            seq = ring.get("next") if isinstance(ring, dict) else None
            seq = seq if isinstance(seq, int) and seq >= 0 else 0
            slot = f"slot-{seq % self.keep}"
            old = (await self.keys.get(self.TYPE, [slot])).get(slot)
            writes: dict[str, Any] = {
                poll.poll_id: {
                    "secret": poll.secret,
                    "chat": poll.chat,
                    "creator": poll.creator,
                    "creator_alt": poll.creator_alt,
                    "options": list(poll.options),
                },
                slot: poll.poll_id,
                "ring": {"next": seq + 1},
            }
            if isinstance(old, str) and old != poll.poll_id:
                writes[old] = None
            await self.keys.set({self.TYPE: writes})

    async def get(self, poll_id: str) -> StoredSecret | None:
        value = (await self.keys.get(self.TYPE, [poll_id])).get(poll_id)
        if not isinstance(value, dict):
            return None
        secret, chat, creator = value.get("secret"), value.get("chat"), value.get("creator")
        options, alt = value.get("options"), value.get("creator_alt")
        if not (isinstance(secret, bytes) and isinstance(chat, str) and isinstance(creator, str)):
            return None
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            return None
        return StoredSecret(
            poll_id, chat, creator, tuple(options), secret, alt if isinstance(alt, str) else None
        )


# ---------------------------------------------------------------------- privacy tokens


class PrivacyToken(NamedTuple):
    token: bytes | None  # the peer's trusted-contact token for us (None: none received)
    timestamp: int  # when the peer issued it (0: never)
    sender_timestamp: int  # when we last issued ours to the peer (0: never)

    def __repr__(self) -> str:  # the token is a credential
        shown = "None" if self.token is None else f"<{len(self.token)} bytes>"
        return f"PrivacyToken(token={shown}, timestamp={self.timestamp}, sender_timestamp={self.sender_timestamp})"


class PrivacyTokens:
    """Trusted-contact tokens per user (``tctoken``): theirs for us, and when we issued
    ours to them (whatsmeow store ``PrivacyTokens``; Baileys ``tctoken`` keys)."""

    TYPE: Final = "tctoken"

    def __init__(self, keys: SignalKeyStore) -> None:
        self.keys = keys

    async def get(self, user: str) -> PrivacyToken | None:
        value = (await self.keys.get(self.TYPE, [user])).get(user)
        if not isinstance(value, dict):
            return None
        token, t, sent = value.get("token"), value.get("t", 0), value.get("sender_t", 0)
        return PrivacyToken(
            token if isinstance(token, bytes) else None,
            t if isinstance(t, int) else 0,
            sent if isinstance(sent, int) else 0,
        )

    async def put_token(self, user: str, token: bytes, timestamp: int) -> bool:
        """Keep ``user``'s token unless the one kept is newer; ``True`` when kept."""
        async with self.keys.transaction():
            old = await self.get(user)
            if old is not None and old.token is not None and old.timestamp > timestamp:
                return False
            sent = old.sender_timestamp if old is not None else 0
            await self.keys.set(
                {self.TYPE: {user: {"token": token, "t": timestamp, "sender_t": sent}}}
            )
            return True

    async def mark_issued(self, user: str, timestamp: int) -> None:
        async with self.keys.transaction():
            old = await self.get(user)
            value: dict[str, Any] = {"t": 0, "sender_t": timestamp}
            if old is not None:
                value["t"] = old.timestamp
                if old.token is not None:
                    value["token"] = old.token
            await self.keys.set({self.TYPE: {user: value}})


# ---------------------------------------------------------------------- app state


class AppStateKey(NamedTuple):
    key_id: bytes
    key_data: bytes
    timestamp: int  # ms, as the phone stamped it

    def __repr__(self) -> str:  # never print key material
        return f"AppStateKey(key_id={self.key_id.hex()}, timestamp={self.timestamp})"


def _key_name(key_id: bytes) -> str:
    return base64.b64encode(key_id).decode()


class AppStateKeys:
    """App-state sync keys the phone shared (``app-state-sync-key``)."""

    TYPE: Final = "app-state-sync-key"

    def __init__(self, keys: SignalKeyStore) -> None:
        self.keys = keys

    async def add(self, new: Sequence[AppStateKey], fingerprints: Mapping[bytes, Any]) -> None:
        await self.keys.set(
            {
                self.TYPE: {
                    _key_name(k.key_id): {
                        "keyData": k.key_data,
                        "fingerprint": fingerprints.get(k.key_id, {}),
                        "timestamp": k.timestamp,
                    }
                    for k in new
                }
            }
        )

    async def get_many(self, key_ids: Iterable[bytes]) -> dict[bytes, AppStateKey]:
        wanted = {_key_name(k): k for k in key_ids}
        stored = await self.keys.get(self.TYPE, list(wanted))
        out: dict[bytes, AppStateKey] = {}
        for name, value in stored.items():
            if isinstance(value, dict) and isinstance(value.get("keyData"), bytes):
                t = value.get("timestamp", 0)
                out[wanted[name]] = AppStateKey(
                    wanted[name], value["keyData"], t if isinstance(t, int) else 0
                )
        return out

    @staticmethod
    def parse_id(name: str) -> bytes | None:
        try:
            return base64.b64decode(name, validate=True)
        except (binascii.Error, ValueError):
            return None


class AppStateVersions:
    """Per collection: version, LTHash and index MAC -> value MAC (``app-state-sync-version``).

    One stored value per collection, written in one store operation: a crash leaves the
    collection at the version before or after a patch, never between.
    """

    TYPE: Final = "app-state-sync-version"

    def __init__(self, keys: SignalKeyStore) -> None:
        self.keys = keys

    async def get(self, name: str) -> CollectionState:
        value = (await self.keys.get(self.TYPE, [name])).get(name)
        return _collection_state(value)

    async def put(self, name: str, state: CollectionState) -> None:
        await self.keys.set({self.TYPE: {name: _collection_value(state)}})

    async def reset(self, name: str) -> None:
        await self.keys.set({self.TYPE: {name: None}})


def _collection_value(state: CollectionState) -> dict[str, Any]:
    return {
        "version": state.version,
        "hash": state.hash,
        "index_value_map": {_key_name(k): v for k, v in state.macs.items()},
    }


def _collection_state(value: Any) -> CollectionState:
    """A stored collection; one of the wrong shape reads as never synced (version 0)."""
    if not isinstance(value, dict):
        return CollectionState()
    version, digest, raw = value.get("version"), value.get("hash"), value.get("index_value_map")
    if (
        not isinstance(version, int)
        or version < 0
        or not isinstance(digest, bytes)
        or len(digest) != HASH_SIZE
        or not isinstance(raw, dict)
    ):
        return CollectionState()
    macs: dict[bytes, bytes] = {}
    for name, mac in raw.items():
        index_mac = AppStateKeys.parse_id(name) if isinstance(name, str) else None
        if index_mac is None or not isinstance(mac, bytes):
            return CollectionState()
        macs[index_mac] = mac
    return CollectionState(version, digest, macs)
