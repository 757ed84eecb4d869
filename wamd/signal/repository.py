"""``SignalRepository``: the Signal layer over a key store, as the client uses it.

Every operation loads what it needs from the ``SignalKeyStore``, works on it with the
sans-IO core, and writes back inside one store transaction, only on success: a message
that fails to decrypt (bad MAC, no session, duplicate) changes nothing stored. When the
caller already holds a transaction (handling one incoming stanza), the writes join it.

Every operation that changes a record runs in a store transaction, and store transactions
are exclusive (one at a time per store, across tasks and processes: the ``SignalKeyStore``
contract), so two tasks never advance the same ratchet concurrently (a lost update there
means "Bad MAC" later). That transaction is the only lock: the receive path opens its
transaction before it decrypts (the plaintext is saved in the same transaction) and the
operations here join it. A per-device lock taken inside or outside the transaction gave
two lock orders, and a socket sending to a device while receiving from it deadlocked.

The parsed form of each session record last written or read is kept (``PARSED_CACHE``
of them) and reused only while the store holds exactly the bytes it was made from, so a
rolled-back transaction or another writer is never mistaken for the current state; the
one taking it for an operation owns it until it writes the result back.

A peer device whose identity key differs from the stored one is reported: decryption
succeeds (as on WhatsApp's phones, which show "security code changed") and the result
says ``identity_changed=True``; with ``trust_identity_changes=False`` it raises
``UntrustedIdentity`` instead and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass

from wamd.binary.jid import JID
from wamd.crypto import KeyPair, SignedKeyPair, generate_keypair, strip_prefix
from wamd.errors import CorruptedStore, InvalidMessage, NoSession, UntrustedIdentity
from wamd.signal import group, session
from wamd.signal.address import signal_address
from wamd.store.types import SignalKeyStore

__all__ = ["MAX_PREKEY_ID", "DecryptResult", "SignalRepository", "generate_prekeys"]

MAX_PREKEY_ID = 0xFFFFFF  # prekey ids are 3 bytes on the wire and wrap before this
PARSED_CACHE = 2048  # parsed session records kept (saves a parse per message)


def generate_prekeys(start_id: int, count: int) -> list[tuple[int, KeyPair]]:
    """``count`` one-time prekeys with ids from ``start_id``, wrapping past 0xFFFFFF to 1."""
    out = []
    for n in range(count):
        key_id = (start_id - 1 + n) % MAX_PREKEY_ID + 1
        out.append((key_id, generate_keypair()))
    return out


@dataclass(frozen=True, slots=True)
class DecryptResult:
    plaintext: bytes
    identity_changed: bool = False
    used_prekey_id: int | None = None


class SignalRepository:
    def __init__(
        self,
        store: SignalKeyStore,
        identity: KeyPair,
        registration_id: int,
        signed_prekey: SignedKeyPair,
        *,
        trust_identity_changes: bool = True,
    ) -> None:
        self.store = store
        self.identity = identity
        self.registration_id = registration_id
        self.signed_prekey = signed_prekey
        self.trust_identity_changes = trust_identity_changes
        self._parsed: dict[str, tuple[bytes, session.SessionRecord]] = {}  # oldest first

    async def _load(self, address: str) -> session.SessionRecord:
        """The session record, parsed, owned by the caller (it may change it)."""
        return self._record(address, (await self.store.get("session", [address])).get(address))

    def _record(self, address: str, stored: bytes | None) -> session.SessionRecord:
        """``_load`` once the stored bytes are read (the paths of every message read and
        write in line, without a coroutine of their own for each)."""
        if stored is None:
            return session.SessionRecord()
        # the parsed form of what was last written is reused only while the store still
        # holds exactly those bytes (a rolled-back or foreign write makes them differ)
        cached = self._parsed.pop(address, None)
        if cached is not None and cached[0] == stored:
            return cached[1]
        try:
            return session.SessionRecord.parse(stored, f"session {address}")
        except CorruptedStore as exc:
            raise exc.about("session", address) from None

    def _keep(self, address: str, data: bytes, record: session.SessionRecord) -> None:
        """Remember ``record`` as the parsed form of ``data`` (just written or read)."""
        self._parsed[address] = (data, record)
        while len(self._parsed) > PARSED_CACHE:
            del self._parsed[next(iter(self._parsed))]

    def _save(self, address: str, record: session.SessionRecord) -> Awaitable[None]:
        """Write ``record`` (the store's own ``set``, to await: no coroutine of its own).
        Kept as the parsed form at once: a rolled-back write leaves the store's bytes
        different from the kept ones, which ``_record`` then ignores."""
        data = record.serialize()
        self._keep(address, data, record)
        return self.store.set({"session": {address: data}})

    async def _check_identity(self, address: str, identity: bytes) -> bool:
        """Store ``identity`` for ``address``; True when it replaced a different one."""
        stored = (await self.store.get("identity-key", [address])).get(address)
        new = b"\x05" + identity
        if stored == new:
            return False
        if stored is not None and not self.trust_identity_changes:
            raise UntrustedIdentity(address)
        await self.store.set({"identity-key": {address: new}})
        return stored is not None

    # ------------------------------------------------------------------ sessions

    async def has_session(self, jid: JID | str) -> bool:
        address = signal_address(jid)
        stored = (await self.store.get("session", [address])).get(address)
        if stored is None:
            return False
        cached = self._parsed.get(address)
        if cached is not None and cached[0] == stored:
            return cached[1].current is not None
        try:
            record = session.SessionRecord.parse(stored, f"session {address}")
        except CorruptedStore as exc:
            raise exc.about("session", address) from None
        self._keep(address, stored, record)
        return record.current is not None

    async def inject_bundle(self, jid: JID | str, bundle: session.PreKeyBundle) -> bool:
        """Start a session from a fetched bundle; True when the identity key changed."""
        address = signal_address(jid)
        async with self.store.transaction():
            changed = await self._check_identity(address, strip_prefix(bundle.identity_key))
            record = await self._load(address)
            session.initiate_session(record, self.identity, self.registration_id, bundle)
            await self._save(address, record)
        return changed

    async def encrypt(self, jid: JID | str, plaintext: bytes) -> tuple[str, bytes]:
        """``("pkmsg" | "msg", ciphertext)`` for one device; ``NoSession`` without one."""
        address = signal_address(jid)
        store = self.store
        async with store.transaction():
            record = self._record(address, (await store.get("session", [address])).get(address))
            if record.current is None:
                raise NoSession(f"no session with {address}")
            result = session.encrypt(record, plaintext)
            await self._save(address, record)
        return result

    async def decrypt(self, jid: JID | str, kind: str, ciphertext: bytes) -> DecryptResult:
        """Decrypt an ``enc`` of type ``pkmsg`` or ``msg`` from one device."""
        address = signal_address(jid)
        store = self.store
        async with store.transaction():
            record = self._record(address, (await store.get("session", [address])).get(address))
            if kind == "msg":
                plaintext = session.decrypt_message(record, ciphertext)
                await self._save(address, record)
                return DecryptResult(plaintext)
            if kind != "pkmsg":
                raise InvalidMessage(
                    f"unknown Signal message type {kind!r} (expected pkmsg or msg)"
                )
            parsed = session.parse_prekey_message(ciphertext)
            changed = await self._check_identity(address, parsed.identity_key)
            signed = (
                self.signed_prekey.key_pair
                if parsed.signed_prekey_id == self.signed_prekey.key_id
                else None
            )
            one_time = None
            # a retransmission on a session already built needs no prekey (the one it
            # named went with the message that built the session)
            if parsed.prekey_id is not None and record.has_base_key(parsed.base_key) is None:
                key_id = str(parsed.prekey_id)
                one_time = (await self.store.get("pre-key", [key_id])).get(key_id)
                if one_time is not None and not isinstance(one_time, KeyPair):
                    raise CorruptedStore(
                        f"pre-key {key_id}", "the stored value is not a key pair"
                    ).about("pre-key", key_id)
            plaintext, _ = session.decrypt_prekey_message(
                record,
                self.identity,
                self.registration_id,
                ciphertext,
                signed,
                one_time,
                parsed=parsed,
            )
            data = record.serialize()
            writes: dict[str, dict[str, object]] = {"session": {address: data}}
            if one_time is not None and parsed.prekey_id is not None:
                writes["pre-key"] = {str(parsed.prekey_id): None}  # a one-time prekey is used once
            await self.store.set(writes)
            self._keep(address, data, record)
            return DecryptResult(plaintext, changed, parsed.prekey_id)

    async def delete_session(self, jid: JID | str) -> None:
        address = signal_address(jid)
        async with self.store.transaction():
            await self.store.set({"session": {address: None}})
            self._parsed.pop(address, None)

    # ------------------------------------------------------------------ groups

    @staticmethod
    def _sender_key_id(group_jid: str, sender: JID | str) -> str:
        return f"{group_jid}::{signal_address(sender)}"

    async def _load_sender_key(self, key_id: str) -> group.SenderKeyRecord:
        stored = (await self.store.get("sender-key", [key_id])).get(key_id)
        if stored is None:
            return group.SenderKeyRecord()
        try:
            return group.SenderKeyRecord.parse(stored, f"sender key {key_id}")
        except CorruptedStore as exc:
            raise exc.about("sender-key", key_id) from None

    async def group_distribution(self, group_jid: str, me: JID | str) -> bytes:
        """Our SenderKeyDistributionMessage for the group (made on first use)."""
        key_id = self._sender_key_id(group_jid, me)
        async with self.store.transaction():
            record = await self._load_sender_key(key_id)
            message = group.create_distribution(record)
            await self.store.set({"sender-key": {key_id: record.serialize()}})
        return message

    async def group_encrypt(self, group_jid: str, me: JID | str, plaintext: bytes) -> bytes:
        key_id = self._sender_key_id(group_jid, me)
        async with self.store.transaction():
            record = await self._load_sender_key(key_id)
            if record.is_empty:
                group.create_distribution(record)
            data = group.group_encrypt(record, plaintext)
            await self.store.set({"sender-key": {key_id: record.serialize()}})
        return data

    async def process_distribution(self, group_jid: str, sender: JID | str, message: bytes) -> None:
        key_id = self._sender_key_id(group_jid, sender)
        async with self.store.transaction():
            record = await self._load_sender_key(key_id)
            group.process_distribution(record, message)
            await self.store.set({"sender-key": {key_id: record.serialize()}})

    async def group_decrypt(self, group_jid: str, sender: JID | str, data: bytes) -> bytes:
        key_id = self._sender_key_id(group_jid, sender)
        async with self.store.transaction():
            record = await self._load_sender_key(key_id)
            plaintext = group.group_decrypt(record, data)
            await self.store.set({"sender-key": {key_id: record.serialize()}})
        return plaintext

    async def reset_group_key(self, group_jid: str, me: JID | str) -> None:
        """Forget our sender key (members changed): the next send distributes a new one."""
        key_id = self._sender_key_id(group_jid, me)
        async with self.store.transaction():
            await self.store.set(
                {"sender-key": {key_id: None}, "sender-key-memory": {group_jid: None}}
            )

    # ------------------------------------------------------------------ prekeys

    async def new_prekeys(self, start_id: int, count: int) -> list[tuple[int, KeyPair]]:
        """Generate and store ``count`` one-time prekeys; the caller uploads them.

        Ids are taken from ``start_id`` on, skipping every id that already holds a key: a
        stored prekey may have been uploaded (when the counter in the creds was lost), and
        overwriting its private half would make the messages sent to it undecryptable.
        """
        if not 0 < count < MAX_PREKEY_ID:
            raise ValueError(f"cannot generate {count} prekeys")
        async with self.store.transaction():
            ids: list[int] = []
            next_id = start_id
            while len(ids) < count:
                batch = [(next_id - 1 + n) % MAX_PREKEY_ID + 1 for n in range(count - len(ids))]
                held = await self.store.get("pre-key", [str(i) for i in batch])
                ids += [i for i in batch if str(i) not in held]
                next_id = batch[-1] % MAX_PREKEY_ID + 1
                if next_id == start_id:
                    raise ValueError("every prekey id holds a key")
            keys = [(key_id, generate_keypair()) for key_id in ids]
            await self.store.set({"pre-key": {str(i): k for i, k in keys}})
        return keys
