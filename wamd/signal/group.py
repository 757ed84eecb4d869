"""Sender keys: how a group message is encrypted once for all members. Sans-IO.

Wire format (libsignal v3, WhatsApp's ``skmsg``):

- distribution: ``0x33 || SenderKeyDistributionMessage{id, iteration, chainKey,
  signingKey (33)}``, sent 1:1 to each member device inside ``Message``;
- message: ``0x33 || SenderKeyMessage{id, iteration, ciphertext} || signature (64)``, the
  XEdDSA signature by the sender's signing key over everything before it.

A record per (group, sender device) keeps up to ``MAX_STATES`` key states (libsignal: 5);
each state keeps up to ``MAX_SKIPPED_KEYS`` keys for out-of-order messages and refuses a
message more than ``MAX_SKIP`` iterations ahead.
"""

from __future__ import annotations

import os
import secrets

from google.protobuf.message import DecodeError as _ProtoDecodeError

from wamd.crypto import generate_keypair, hmac_sha256, sign, strip_prefix, verify
from wamd.errors import CorruptedStore, DuplicateMessage, InvalidKey, InvalidMessage, NoSession
from wamd.proto import signal_pb2, signal_store_pb2
from wamd.signal import kdf
from wamd.signal.session import CIPHERTEXT_VERSION, VERSION_BYTE

__all__ = [
    "SenderKeyRecord",
    "create_distribution",
    "group_decrypt",
    "group_encrypt",
    "process_distribution",
]

MAX_STATES = 5
MAX_SKIP = 2000
MAX_SKIPPED_KEYS = 2000
SIGNATURE_LENGTH = 64
RECORD_VERSION = 1


class SenderKeyRecord:
    """Key states of one sender in one group, newest first."""

    __slots__ = ("states",)

    def __init__(self) -> None:
        self.states: list[signal_store_pb2.SenderKeyState] = []

    def state(self, key_id: int | None = None) -> signal_store_pb2.SenderKeyState | None:
        for state in self.states:
            if key_id is None or state.keyId == key_id:
                return state
        return None

    def add(self, state: signal_store_pb2.SenderKeyState) -> None:
        self.states = [s for s in self.states if s.keyId != state.keyId]
        self.states.insert(0, state)
        del self.states[MAX_STATES:]

    @property
    def is_empty(self) -> bool:
        return not self.states

    def serialize(self) -> bytes:
        record = signal_store_pb2.SenderKeyRecord(version=RECORD_VERSION, states=self.states)
        return record.SerializeToString()

    @classmethod
    def parse(cls, data: bytes, location: str = "sender key record") -> SenderKeyRecord:
        record = signal_store_pb2.SenderKeyRecord()
        try:
            record.ParseFromString(data)
        except _ProtoDecodeError:
            raise CorruptedStore(location, "sender key record does not parse") from None
        if record.version != RECORD_VERSION:
            raise CorruptedStore(location, f"unknown sender key record version {record.version}")
        out = cls()
        out.states = list(record.states)
        return out


def create_distribution(record: SenderKeyRecord) -> bytes:
    """Our distribution message, creating our sender key first if there is none."""
    state = record.state()
    if state is None:
        signing = generate_keypair()
        state = signal_store_pb2.SenderKeyState(
            keyId=secrets.randbelow(0x7FFFFFFF) + 1,
            iteration=0,
            chainKey=os.urandom(32),
            signingPublic=signing.public,
            signingPrivate=signing.private,
        )
        record.add(state)
    message = signal_pb2.SenderKeyDistributionMessage(
        id=state.keyId,
        iteration=state.iteration,
        chainKey=state.chainKey,
        signingKey=b"\x05" + state.signingPublic,
    )
    return bytes((VERSION_BYTE,)) + message.SerializeToString()


def process_distribution(record: SenderKeyRecord, data: bytes) -> None:
    """Store a sender's key from their distribution message."""
    if not data or data[0] >> 4 != CIPHERTEXT_VERSION:
        raise InvalidMessage("sender key distribution has an unsupported version")
    message = signal_pb2.SenderKeyDistributionMessage()
    try:
        message.ParseFromString(data[1:])
    except _ProtoDecodeError:
        raise InvalidMessage("sender key distribution does not parse") from None
    if len(message.chainKey) != 32 or not message.HasField("signingKey"):
        raise InvalidMessage("sender key distribution is incomplete")
    try:
        signing = strip_prefix(message.signingKey)
    except InvalidKey as exc:
        raise InvalidMessage(f"sender key distribution: {exc}") from None
    existing = record.state(message.id)
    if (
        existing is not None
        and existing.signingPublic == signing
        and existing.iteration <= message.iteration
    ):
        return  # already known, and at least as far along
    record.add(
        signal_store_pb2.SenderKeyState(
            keyId=message.id,
            iteration=message.iteration,
            chainKey=message.chainKey,
            signingPublic=signing,
        )
    )


def group_encrypt(record: SenderKeyRecord, plaintext: bytes) -> bytes:
    """A ``skmsg`` with our current sender key (``create_distribution`` first)."""
    state = record.state()
    if state is None or not state.signingPrivate:
        raise NoSession("no sender key of our own in this group")
    seed = hmac_sha256(state.chainKey, b"\x01")
    iv, key = kdf.sender_message_key(seed)
    body = (
        bytes((VERSION_BYTE,))
        + signal_pb2.SenderKeyMessage(
            id=state.keyId,
            iteration=state.iteration,
            ciphertext=kdf.aes_cbc_encrypt(key, iv, plaintext),
        ).SerializeToString()
    )
    state.chainKey = hmac_sha256(state.chainKey, b"\x02")
    state.iteration += 1
    return body + sign(state.signingPrivate, body)


def group_decrypt(record: SenderKeyRecord, data: bytes) -> bytes:
    """Decrypt a ``skmsg``; the record changes only on success."""
    if len(data) < 1 + SIGNATURE_LENGTH + 1:
        raise InvalidMessage("sender key message is too short")
    if data[0] >> 4 != CIPHERTEXT_VERSION:
        raise InvalidMessage(f"sender key message has unsupported version {data[0] >> 4}")
    body, signature = data[:-SIGNATURE_LENGTH], data[-SIGNATURE_LENGTH:]
    message = signal_pb2.SenderKeyMessage()
    try:
        message.ParseFromString(body[1:])
    except _ProtoDecodeError:
        raise InvalidMessage("sender key message does not parse") from None
    state = record.state(message.id)
    if state is None:
        raise NoSession(f"no sender key {message.id} from this sender")
    if not verify(state.signingPublic, body, signature):
        raise InvalidMessage("sender key message signature does not verify")
    iteration = message.iteration
    working = signal_store_pb2.SenderKeyState()
    working.CopyFrom(state)
    if iteration < working.iteration:
        for i, skipped in enumerate(working.skipped):
            if skipped.iteration == iteration:
                seed = skipped.seed
                del working.skipped[i]
                break
        else:
            raise DuplicateMessage(f"sender key message {iteration} was already received")
    else:
        if iteration - working.iteration > MAX_SKIP:
            raise InvalidMessage(f"sender key message {iteration} is more than {MAX_SKIP} ahead")
        chain = working.chainKey
        for i in range(working.iteration, iteration):
            working.skipped.add(iteration=i, seed=hmac_sha256(chain, b"\x01"))
            chain = hmac_sha256(chain, b"\x02")
        seed = hmac_sha256(chain, b"\x01")
        working.chainKey = hmac_sha256(chain, b"\x02")
        working.iteration = iteration + 1
        if len(working.skipped) > MAX_SKIPPED_KEYS:
            del working.skipped[: len(working.skipped) - MAX_SKIPPED_KEYS]
    iv, key = kdf.sender_message_key(seed)
    plaintext = kdf.aes_cbc_decrypt(key, iv, message.ciphertext)
    state.CopyFrom(working)
    return plaintext
