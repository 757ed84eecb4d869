"""1:1 Signal sessions: X3DH, the Double Ratchet, wire messages, session records. Sans-IO.

Wire format (libsignal v3, WhatsApp's ``msg`` and ``pkmsg``):

- ``msg``: ``version byte 0x33 || SignalMessage || MAC[:8]``, the MAC being
  HMAC-SHA256 (message MAC key) over ``sender identity (33) || receiver identity (33) ||
  version byte || SignalMessage``;
- ``pkmsg``: ``0x33 || PreKeySignalMessage`` whose ``message`` is a whole ``msg``.

Session records keep the current state and up to ``MAX_PREVIOUS_STATES`` earlier ones
(libsignal keeps 40), tried in order, so messages in flight across a session reset still
decrypt. Each state keeps up to ``MAX_RECEIVER_CHAINS`` receiving chains (libsignal: 5) and
up to ``MAX_SKIPPED_KEYS`` keys for messages not yet seen; a message further than
``MAX_SKIP`` ahead of its chain is refused (libsignal: 2000).

Decryption works on a record object and only changes it when the message is accepted:
callers load a record, decrypt, and persist the record only on success.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError as _ProtoDecodeError

from wamd.crypto import KeyPair, generate_keypair, hmac_sha256, prefixed, strip_prefix, verify
from wamd.errors import (
    BadMac,
    CorruptedStore,
    DuplicateMessage,
    InvalidKey,
    InvalidMessage,
    MalformedMessage,
    NoSession,
    TooFarAhead,
)
from wamd.proto import signal_pb2, signal_store_pb2
from wamd.signal import kdf

__all__ = [
    "CIPHERTEXT_VERSION",
    "MAX_SKIP",
    "PreKeyBundle",
    "SessionRecord",
    "SessionState",
    "decrypt_message",
    "decrypt_prekey_message",
    "encrypt",
    "initiate_session",
    "parse_prekey_message",
]

CIPHERTEXT_VERSION = 3  # libsignal's current message version
VERSION_BYTE = (CIPHERTEXT_VERSION << 4) | CIPHERTEXT_VERSION  # 0x33 in front of every message
MAC_LENGTH = 8  # truncated HMAC at the end of a SignalMessage
MAX_SKIP = 2000  # furthest a message may be ahead of its chain
MAX_SKIPPED_KEYS = 2000  # keys kept per chain for out-of-order messages
MAX_RECEIVER_CHAINS = 5
MAX_SKIPPED_PER_RECORD = 2000  # out-of-order message keys kept per remote device in all
MAX_PREVIOUS_STATES = 40
RECORD_VERSION = 1


@dataclass(slots=True)
class PreKeyBundle:
    """What a key fetch returns for one device."""

    registration_id: int
    device_id: int
    identity_key: bytes  # 32 bytes
    signed_prekey_id: int
    signed_prekey: bytes  # 32 bytes
    signed_prekey_signature: bytes
    prekey_id: int | None = None
    prekey: bytes | None = None


@dataclass(slots=True)
class _Chain:
    ratchet_public: bytes
    chain_key: bytes = field(repr=False)
    index: int = 0
    # our ratchet key pair (sending chains only), kept whole so that its key object,
    # made once, serves every agreement with it
    ratchet: KeyPair | None = field(default=None, repr=False)
    skipped: dict[int, tuple[bytes, bytes, bytes]] = field(default_factory=dict, repr=False)
    # the encoded chain and what it was encoded from (see _encode_chain)
    wire: tuple[tuple[bytes, int, tuple[int, ...]], bytes] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def ratchet_private(self) -> bytes:
        return self.ratchet.private if self.ratchet is not None else b""


@dataclass(slots=True)
class _Pending:
    prekey_id: int | None
    signed_prekey_id: int
    base_key: bytes


@dataclass(slots=True)
class SessionState:
    local_identity: bytes
    remote_identity: bytes
    root_key: bytes = field(repr=False)
    sender: _Chain
    receivers: list[_Chain] = field(default_factory=list)
    previous_counter: int = 0
    pending: _Pending | None = None
    remote_registration_id: int = 0
    local_registration_id: int = 0
    alice_base_key: bytes = b""
    # this state's stored form, kept while it is an earlier (archived) state, which
    # changes only when its skipped keys are trimmed; None whenever it may have changed
    wire: bytes | None = field(default=None, init=False, repr=False, compare=False)
    # the encoded fields around the chains, and what they were encoded from (_encode_state)
    ends: tuple[tuple[object, ...], bytes, bytes] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def add_receiver(self, chain: _Chain) -> None:
        self.receivers.insert(0, chain)
        del self.receivers[MAX_RECEIVER_CHAINS:]


class SessionRecord:
    """All sessions with one remote device: the current one and earlier ones."""

    __slots__ = ("current", "previous")

    def __init__(self) -> None:
        self.current: SessionState | None = None
        self.previous: list[SessionState] = []

    def promote(self, state: SessionState) -> None:
        """Make ``state`` current, archiving the one it replaces."""
        if self.current is not None and self.current is not state:
            self.previous.insert(0, self.current)
        if state in self.previous:
            self.previous.remove(state)
        state.wire = None  # kept only while earlier: the current one changes in place
        self.current = state
        del self.previous[MAX_PREVIOUS_STATES:]

    def has_base_key(self, base_key: bytes) -> SessionState | None:
        for state in self._states():
            if state.alice_base_key == base_key:
                return state
        return None

    def _states(self) -> list[SessionState]:
        return ([self.current] if self.current else []) + self.previous

    def trim_skipped(self) -> None:
        """Keep at most ``MAX_SKIPPED_PER_RECORD`` message keys for out-of-order messages
        in the whole record, dropping those of the oldest sessions and chains first.

        Per chain and per record libsignal's limits (2000 keys, 40 archived sessions, 5
        chains) allow a record of ~37 MB, rebuilt for every message from that device;
        this bound keeps it to a few hundred KB. A message whose key was dropped reads as a
        duplicate (as in libsignal for any counter behind its chain without a key).
        """
        states = self._states()
        total = 0
        for st in states:  # the common case, counted without building the chain list
            total += len(st.sender.skipped)
            for receiver in st.receivers:
                total += len(receiver.skipped)
        if total <= MAX_SKIPPED_PER_RECORD:
            return
        chains = [c for st in reversed(states) for c in (*reversed(st.receivers), st.sender)]
        for chain in chains:
            if total <= MAX_SKIPPED_PER_RECORD:
                return
            drop = min(len(chain.skipped), total - MAX_SKIPPED_PER_RECORD)
            if not drop:
                continue
            for index in sorted(chain.skipped)[:drop]:
                del chain.skipped[index]
            total -= drop
            for state in self._states():  # the state that holds this chain changed
                if state.sender is chain or any(c is chain for c in state.receivers):
                    state.wire = None

    # ------------------------------------------------------------------ storage

    def serialize(self) -> bytes:
        """The stored form (``signal_store.SessionRecord``; the same bytes protobuf's own
        serialiser gives). Written by hand, and each earlier state's part is kept between
        calls: only the current state, which every message changes, is encoded anew."""
        self.trim_skipped()
        parts = [_RECORD_VERSION_FIELD]
        current = self.current
        if current is not None:  # changes in place with every message: never kept
            parts.append(_message(0x12, _encode_state(current)))
        for state in self.previous:
            wire = state.wire
            if wire is None:
                wire = state.wire = _message(0x1A, _encode_state(state))
            parts.append(wire)
        return b"".join(parts)

    def serialize_with_protobuf(self) -> bytes:
        """``serialize`` through the protobuf classes, nothing kept (the reference form)."""
        self.trim_skipped()
        record = signal_store_pb2.SessionRecord(version=RECORD_VERSION)
        if self.current is not None:
            record.current.CopyFrom(_state_to_proto(self.current))
        record.previous.extend(_state_to_proto(s) for s in self.previous)
        return record.SerializeToString()

    @classmethod
    def parse(cls, data: bytes, location: str = "session record") -> SessionRecord:
        record = signal_store_pb2.SessionRecord()
        try:
            record.ParseFromString(data)
        except _ProtoDecodeError:
            raise CorruptedStore(location, "session record does not parse") from None
        if record.version != RECORD_VERSION:
            raise CorruptedStore(location, f"unknown session record version {record.version}")
        out = cls()
        try:
            if record.HasField("current"):
                out.current = _state_from_proto(record.current)
            out.previous = [_state_from_proto(s) for s in record.previous]
        except InvalidKey:  # a ratchet key pair of the wrong size
            raise CorruptedStore(location, "session record holds a malformed ratchet key") from None
        return out


# ---------------------------------------------------------------------------- stored form
# Hand-written protobuf for signal_store.proto (field numbers there): proto3 leaves out
# zero numbers and empty bytes, writes fields in number order, and a set submessage
# (the sender chain, the pending prekey) even when empty.


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n]
    if n >> 32:
        raise ValueError(f"{n} does not fit a uint32 field")
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [bytes((n,)) for n in range(0x80)]
_RECORD_VERSION_FIELD = b"\x08" + _varint(RECORD_VERSION)


def _message(tag: int, body: bytes) -> bytes:
    """A length-delimited field (``tag``: its key byte, < 0x80) holding ``body``."""
    n = len(body)
    return _SMALL[tag] + (_SMALL[n] if n < 0x80 else _varint(n)) + body


def _encode_chain(chain: _Chain) -> bytes:
    """The chain's stored form, kept between calls while it stays the same: a chain's
    ratchet keys never change, and its skipped message keys follow from its chain key's
    history, so its chain key, index and the indices of its skipped keys say all of it
    (a state holds up to six chains; each message changes one)."""
    mark = (chain.chain_key, chain.index, tuple(chain.skipped))
    kept = chain.wire
    if kept is not None and kept[0] == mark:
        return kept[1]
    wire = _encode_chain_anew(chain)
    chain.wire = (mark, wire)
    return wire


def _encode_chain_anew(chain: _Chain) -> bytes:
    pub = chain.ratchet_public
    parts = [b"\x0a" + _varint(len(pub)) + pub] if pub else []
    if chain.ratchet is not None:
        parts.append(b"\x12\x20" + chain.ratchet.private)
    if chain.index:
        parts.append(b"\x18" + _varint(chain.index))
    key = chain.chain_key
    if key:
        parts.append(b"\x22" + _varint(len(key)) + key)
    for index, (cipher_key, mac_key, iv) in chain.skipped.items():
        keys = b"".join(
            (
                b"\x08" + _varint(index) if index else b"",
                _message(0x12, cipher_key) if cipher_key else b"",
                _message(0x1A, mac_key) if mac_key else b"",
                _message(0x22, iv) if iv else b"",
            )
        )
        parts.append(_message(0x2A, keys))
    return b"".join(parts)


def _encode_state(state: SessionState) -> bytes:
    """A state's stored form. The fields before and after the chains change only with a
    DH ratchet step or a prekey message's answer, so their encoding is kept with a mark of
    what it was made from (the pending prekey by value: it is a mutable object)."""
    pending = state.pending
    mark = (
        state.local_identity,
        state.remote_identity,
        state.root_key,
        state.previous_counter,
        None
        if pending is None
        else (pending.prekey_id, pending.signed_prekey_id, pending.base_key),
        state.remote_registration_id,
        state.local_registration_id,
        state.alice_base_key,
    )
    ends = state.ends
    if ends is None or ends[0] != mark:
        ends = state.ends = (mark, *_encode_state_ends(state))
    parts = [ends[1], _message(0x2A, _encode_chain(state.sender))]
    for chain in state.receivers:
        parts.append(_message(0x32, _encode_chain(chain)))
    parts.append(ends[2])
    return b"".join(parts)


def _encode_state_ends(state: SessionState) -> tuple[bytes, bytes]:
    """The encoded fields before the chains (1-4) and after them (7-10)."""
    head = []
    for tag, value in (
        (0x0A, state.local_identity),
        (0x12, state.remote_identity),
        (0x1A, state.root_key),
    ):
        if value:
            head.append(_message(tag, value))
    if state.previous_counter:
        head.append(b"\x20" + _varint(state.previous_counter))
    tail = []
    pending = state.pending
    if pending is not None:
        body = b"".join(
            (
                b"\x08\x01" if pending.prekey_id is not None else b"",
                b"\x10" + _varint(pending.prekey_id) if pending.prekey_id else b"",
                b"\x18" + _varint(pending.signed_prekey_id) if pending.signed_prekey_id else b"",
                _message(0x22, pending.base_key) if pending.base_key else b"",
            )
        )
        tail.append(_message(0x3A, body))
    if state.remote_registration_id:
        tail.append(b"\x40" + _varint(state.remote_registration_id))
    if state.local_registration_id:
        tail.append(b"\x48" + _varint(state.local_registration_id))
    if state.alice_base_key:
        tail.append(_message(0x52, state.alice_base_key))
    return b"".join(head), b"".join(tail)


def _chain_to_proto(chain: _Chain) -> signal_store_pb2.Chain:
    return signal_store_pb2.Chain(
        ratchetPublic=chain.ratchet_public,
        ratchetPrivate=chain.ratchet.private if chain.ratchet is not None else b"",
        index=chain.index,
        chainKey=chain.chain_key,
        skipped=[
            signal_store_pb2.MessageKeys(index=i, cipherKey=k[0], macKey=k[1], iv=k[2])
            for i, k in chain.skipped.items()
        ],
    )


def _chain_from_proto(chain: signal_store_pb2.Chain) -> _Chain:
    private = chain.ratchetPrivate
    return _Chain(
        ratchet_public=chain.ratchetPublic,
        chain_key=chain.chainKey,
        index=chain.index,
        ratchet=KeyPair(chain.ratchetPublic, private) if private else None,
        skipped={k.index: (k.cipherKey, k.macKey, k.iv) for k in chain.skipped},
    )


def _state_to_proto(state: SessionState) -> signal_store_pb2.SessionState:
    proto = signal_store_pb2.SessionState(
        localIdentity=state.local_identity,
        remoteIdentity=state.remote_identity,
        rootKey=state.root_key,
        previousCounter=state.previous_counter,
        senderChain=_chain_to_proto(state.sender),
        receiverChains=[_chain_to_proto(c) for c in state.receivers],
        remoteRegistrationId=state.remote_registration_id,
        localRegistrationId=state.local_registration_id,
        aliceBaseKey=state.alice_base_key,
    )
    if state.pending is not None:
        proto.pendingPreKey.CopyFrom(
            signal_store_pb2.PendingPreKey(
                hasPreKeyId=state.pending.prekey_id is not None,
                preKeyId=state.pending.prekey_id or 0,
                signedPreKeyId=state.pending.signed_prekey_id,
                baseKey=state.pending.base_key,
            )
        )
    return proto


def _state_from_proto(proto: signal_store_pb2.SessionState) -> SessionState:
    pending = None
    if proto.HasField("pendingPreKey"):
        p = proto.pendingPreKey
        pending = _Pending(p.preKeyId if p.hasPreKeyId else None, p.signedPreKeyId, p.baseKey)
    return SessionState(
        local_identity=proto.localIdentity,
        remote_identity=proto.remoteIdentity,
        root_key=proto.rootKey,
        sender=_chain_from_proto(proto.senderChain),
        receivers=[_chain_from_proto(c) for c in proto.receiverChains],
        previous_counter=proto.previousCounter,
        pending=pending,
        remote_registration_id=proto.remoteRegistrationId,
        local_registration_id=proto.localRegistrationId,
        alice_base_key=proto.aliceBaseKey,
    )


# ---------------------------------------------------------------------------- X3DH


def initiate_session(
    record: SessionRecord,
    identity: KeyPair,
    registration_id: int,
    bundle: PreKeyBundle,
    *,
    base_key: KeyPair | None = None,
    ratchet_key: KeyPair | None = None,
) -> SessionState:
    """Alice's side of X3DH from a fetched bundle; the new state becomes current."""
    their_identity = strip_prefix(bundle.identity_key)
    signed = strip_prefix(bundle.signed_prekey)
    if not verify(their_identity, prefixed(signed), bundle.signed_prekey_signature):
        raise InvalidKey("signed prekey signature does not verify")
    base = base_key or generate_keypair()
    ratchet = ratchet_key or generate_keypair()
    secrets = identity.agree(signed) + base.agree(their_identity) + base.agree(signed)
    if bundle.prekey is not None:
        secrets += base.agree(bundle.prekey)
    root, chain = kdf.derive_initial(secrets)
    new_root, sending_chain = kdf.root_step(root, ratchet.agree(signed))
    state = SessionState(
        local_identity=identity.public,
        remote_identity=their_identity,
        root_key=new_root,
        sender=_Chain(ratchet.public, sending_chain, 0, ratchet),
        receivers=[_Chain(signed, chain)],
        pending=_Pending(bundle.prekey_id, bundle.signed_prekey_id, base.public),
        remote_registration_id=bundle.registration_id,
        local_registration_id=registration_id,
        alice_base_key=base.public,
    )
    record.promote(state)
    return state


@dataclass(frozen=True, slots=True)
class ParsedPreKeyMessage:
    registration_id: int
    prekey_id: int | None
    signed_prekey_id: int
    base_key: bytes  # 32 bytes
    identity_key: bytes  # 32 bytes
    message: bytes  # the inner serialized SignalMessage


def _check_version(data: bytes, what: str) -> None:
    if not data:
        raise MalformedMessage(f"{what} is empty")
    version = data[0] >> 4
    if version != CIPHERTEXT_VERSION:
        raise MalformedMessage(f"{what} has unsupported version {version}")


def parse_prekey_message(data: bytes) -> ParsedPreKeyMessage:
    _check_version(data, "prekey message")
    message = signal_pb2.PreKeySignalMessage()
    try:
        message.ParseFromString(data[1:])
    except _ProtoDecodeError:
        raise MalformedMessage("prekey message does not parse") from None
    if (
        not message.HasField("baseKey")
        or not message.HasField("identityKey")
        or not message.message
    ):
        raise MalformedMessage("prekey message is incomplete")
    try:
        base, ident = strip_prefix(message.baseKey), strip_prefix(message.identityKey)
    except InvalidKey as exc:
        raise MalformedMessage(f"prekey message: {exc}") from None
    return ParsedPreKeyMessage(
        registration_id=message.registrationId,
        prekey_id=message.preKeyId if message.HasField("preKeyId") else None,
        signed_prekey_id=message.signedPreKeyId,
        base_key=base,
        identity_key=ident,
        message=message.message,
    )


def _accept_session(
    identity: KeyPair,
    registration_id: int,
    parsed: ParsedPreKeyMessage,
    signed_prekey: KeyPair,
    one_time_prekey: KeyPair | None,
) -> SessionState:
    """Bob's side of X3DH for a new base key."""
    secrets = (
        signed_prekey.agree(parsed.identity_key)
        + identity.agree(parsed.base_key)
        + signed_prekey.agree(parsed.base_key)
    )
    if one_time_prekey is not None:
        secrets += one_time_prekey.agree(parsed.base_key)
    root, chain = kdf.derive_initial(secrets)
    return SessionState(
        local_identity=identity.public,
        remote_identity=parsed.identity_key,
        root_key=root,
        sender=_Chain(signed_prekey.public, chain, 0, signed_prekey),
        remote_registration_id=parsed.registration_id,
        local_registration_id=registration_id,
        alice_base_key=parsed.base_key,
    )


# ---------------------------------------------------------------------------- ratchet


def _mac(mac_key: bytes, sender_identity: bytes, receiver_identity: bytes, body: bytes) -> bytes:
    data = b"\x05" + sender_identity + b"\x05" + receiver_identity + body
    return hmac_sha256(mac_key, data)[:MAC_LENGTH]


def encrypt(record: SessionRecord, plaintext: bytes) -> tuple[str, bytes]:
    """Encrypt with the current session: ``("pkmsg" | "msg", serialized message)``."""
    state = record.current
    if state is None:
        raise NoSession("no session to encrypt with")
    chain = state.sender
    seed, chain.chain_key = kdf.chain_step(chain.chain_key)
    counter = chain.index
    chain.index += 1
    cipher_key, mac_key, iv = kdf.message_keys(seed)
    body = (
        bytes((VERSION_BYTE,))
        + signal_pb2.SignalMessage(
            ratchetKey=b"\x05" + chain.ratchet_public,
            counter=counter,
            previousCounter=state.previous_counter,
            ciphertext=kdf.aes_cbc_encrypt(cipher_key, iv, plaintext),
        ).SerializeToString()
    )
    message = body + _mac(mac_key, state.local_identity, state.remote_identity, body)
    pending = state.pending
    if pending is None:
        return "msg", message
    prekey_message = signal_pb2.PreKeySignalMessage(
        registrationId=state.local_registration_id,
        signedPreKeyId=pending.signed_prekey_id,
        baseKey=b"\x05" + pending.base_key,
        identityKey=b"\x05" + state.local_identity,
        message=message,
    )
    if pending.prekey_id is not None:
        prekey_message.preKeyId = pending.prekey_id
    return "pkmsg", bytes((VERSION_BYTE,)) + prekey_message.SerializeToString()


class _Parsed:
    __slots__ = ("body", "ciphertext", "counter", "mac", "previous_counter", "ratchet_key")

    def __init__(self, data: bytes) -> None:
        _check_version(data, "message")
        if len(data) < 1 + MAC_LENGTH + 1:
            raise MalformedMessage("message is too short")
        self.body, self.mac = data[:-MAC_LENGTH], data[-MAC_LENGTH:]
        message = signal_pb2.SignalMessage()
        try:
            message.ParseFromString(self.body[1:])
        except _ProtoDecodeError:
            raise MalformedMessage("message does not parse") from None
        if not message.HasField("ratchetKey") or not message.HasField("ciphertext"):
            raise MalformedMessage("message is incomplete")
        try:
            self.ratchet_key = strip_prefix(message.ratchetKey)
        except InvalidKey as exc:
            raise MalformedMessage(f"message: {exc}") from None
        self.counter = message.counter
        self.previous_counter = message.previousCounter
        self.ciphertext = message.ciphertext


def _derive_skipping(chain: _Chain, counter: int) -> tuple[bytes, bytes, bytes]:
    """Keys for ``counter`` on a receiving chain, storing the ones skipped on the way."""
    if counter < chain.index:
        keys = chain.skipped.pop(counter, None)
        if keys is None:
            raise DuplicateMessage(f"message {counter} was already received")
        return keys
    if counter - chain.index > MAX_SKIP:
        raise TooFarAhead(f"message {counter} is more than {MAX_SKIP} ahead of its chain")
    key = chain.chain_key
    index = chain.index
    while index < counter:
        seed, key = kdf.chain_step(key)
        chain.skipped[index] = kdf.message_keys(seed)
        index += 1
    seed, key = kdf.chain_step(key)
    chain.chain_key = key
    chain.index = counter + 1
    if len(chain.skipped) > MAX_SKIPPED_KEYS:
        for old in sorted(chain.skipped)[: len(chain.skipped) - MAX_SKIPPED_KEYS]:
            del chain.skipped[old]
    return kdf.message_keys(seed)


def _copy_chain(chain: _Chain) -> _Chain:
    return _Chain(
        chain.ratchet_public,
        chain.chain_key,
        chain.index,
        chain.ratchet,
        dict(chain.skipped),
        chain.wire,  # still checked against the copy's own content before use
    )


def _copy_state(state: SessionState) -> SessionState:
    """A copy that decryption may change freely (keys are immutable bytes). Its chains
    are the original's: decryption replaces the sending chain rather than change it, and
    copies a receiving chain before it moves it (``_decrypt_with_state``)."""
    copy = SessionState(
        state.local_identity,
        state.remote_identity,
        state.root_key,
        state.sender,
        list(state.receivers),
        state.previous_counter,
        state.pending,
        state.remote_registration_id,
        state.local_registration_id,
        state.alice_base_key,
    )
    copy.ends = state.ends  # checked against the copy's own fields before use
    return copy


def _decrypt_with_state(state: SessionState, parsed: _Parsed) -> bytes:
    """Decrypt on ``state`` (mutating it, but none of its chains: the receiving chain it
    moves is a copy put in its place). Callers pass a copy (``_copy_state``) when
    failure must not mutate."""
    chain = None
    receivers = state.receivers
    for at, held in enumerate(receivers):
        if held.ratchet_public == parsed.ratchet_key:
            # moved below: a copy in its place, as a state copy shares its chains
            chain = receivers[at] = _copy_chain(held)
            break
    if chain is None:  # a DH ratchet step: a new receiving chain, then a new sending chain
        ours = state.sender.ratchet
        if ours is None:
            raise InvalidMessage("session has no sending ratchet key")
        root, receiving = kdf.root_step(state.root_key, ours.agree(parsed.ratchet_key))
        new_ratchet = generate_keypair()
        root, sending = kdf.root_step(root, new_ratchet.agree(parsed.ratchet_key))
        chain = _Chain(parsed.ratchet_key, receiving)
        state.add_receiver(chain)
        state.previous_counter = max(state.sender.index - 1, 0)
        state.sender = _Chain(new_ratchet.public, sending, 0, new_ratchet)
        state.root_key = root
    plaintext = _open(state, parsed, _derive_skipping(chain, parsed.counter))
    state.pending = None  # the peer answered: no need to send prekey messages any more
    return plaintext


def _open(state: SessionState, parsed: _Parsed, keys: tuple[bytes, bytes, bytes]) -> bytes:
    """The message's MAC checked and its body decrypted with its keys; nothing changes."""
    cipher_key, mac_key, iv = keys
    expected = _mac(mac_key, state.remote_identity, state.local_identity, parsed.body)
    if not hmac.compare_digest(expected, parsed.mac):
        raise BadMac("bad MAC")
    return kdf.aes_cbc_decrypt(cipher_key, iv, parsed.ciphertext)


def _decrypt_in_place(state: SessionState, parsed: _Parsed) -> bytes | None:
    """The common message: the next one on a receiving chain the state holds, or one
    whose key was kept when it was skipped. Its keys are derived and it is checked and
    decrypted before anything changes; then the chain moves on (no copies). None for the
    rest (a DH ratchet step, a message ahead of its chain, a duplicate), which
    ``_decrypt_with_state`` does (or refuses) on a copy."""
    for chain in state.receivers:
        if chain.ratchet_public == parsed.ratchet_key:
            break
    else:
        return None
    counter = parsed.counter
    next_key = None
    if counter == chain.index:
        seed, next_key = kdf.chain_step(chain.chain_key)
        keys = kdf.message_keys(seed)
    elif counter in chain.skipped:
        keys = chain.skipped[counter]
    else:
        return None
    plaintext = _open(state, parsed, keys)
    if next_key is None:
        del chain.skipped[counter]
    else:
        chain.chain_key = next_key
        chain.index = counter + 1
    state.pending = None  # the peer answered: no need to send prekey messages any more
    return plaintext


def decrypt_message(record: SessionRecord, data: bytes) -> bytes:
    """Decrypt a ``msg``; the record changes only when decryption succeeds.

    Tries the current state, then earlier ones (a message sent before a session reset).
    """
    parsed = _Parsed(data)
    if record.current is None and not record.previous:
        raise NoSession("no session with this device")
    errors: list[Exception] = []
    for state in record._states():
        candidate = None
        try:
            plaintext = _decrypt_in_place(state, parsed)
            if plaintext is None:
                candidate = _copy_state(state)
                plaintext = _decrypt_with_state(candidate, parsed)
        except DuplicateMessage:
            raise
        except InvalidMessage as exc:
            errors.append(exc)
            continue
        if candidate is not None:
            _replace(record, state, candidate)
        elif state is not record.current:
            record.promote(state)  # a message of an earlier session: it is current again
        return plaintext
    specific = [e for e in errors if not isinstance(e, BadMac)]
    if specific:  # e.g. the skip bound: more useful to the caller than a MAC failure
        raise specific[0]
    raise BadMac("bad MAC: no session state decrypts this message")


def _replace(record: SessionRecord, old: SessionState, new: SessionState) -> None:
    if record.current is old:
        record.current = new
    else:
        index = record.previous.index(old)
        record.previous[index] = new
        record.promote(new)


def decrypt_prekey_message(
    record: SessionRecord,
    identity: KeyPair,
    registration_id: int,
    data: bytes,
    signed_prekey: KeyPair | None,
    one_time_prekey: KeyPair | None,
    *,
    parsed: ParsedPreKeyMessage | None = None,
) -> tuple[bytes, ParsedPreKeyMessage]:
    """Decrypt a ``pkmsg``, creating the session when its base key is new.

    The caller looks up the signed prekey and one-time prekey named by
    ``parse_prekey_message(data)`` and passes them (None when it has no such key), and
    may pass that parse as ``parsed`` (it must be of ``data``). On success the record
    holds the session; the caller then deletes the one-time prekey. A retransmission on
    a session already built (``record.has_base_key``) needs neither prekey.
    """
    if parsed is None:
        parsed = parse_prekey_message(data)
    existing = record.has_base_key(parsed.base_key)
    if existing is not None:  # a retransmission on a session we already built
        candidate = _copy_state(existing)
        plaintext = _decrypt_with_state(candidate, _Parsed(parsed.message))
        _replace(record, existing, candidate)
        record.promote(candidate)
        return plaintext, parsed
    if signed_prekey is None:
        raise InvalidKey(f"unknown signed prekey {parsed.signed_prekey_id}")
    if parsed.prekey_id is not None and one_time_prekey is None:
        raise InvalidKey(f"unknown or already used one-time prekey {parsed.prekey_id}")
    state = _accept_session(
        identity,
        registration_id,
        parsed,
        signed_prekey,
        one_time_prekey if parsed.prekey_id is not None else None,
    )
    plaintext = _decrypt_with_state(state, _Parsed(parsed.message))
    record.promote(state)
    return plaintext, parsed
