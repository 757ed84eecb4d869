"""Decoding and encoding app-state snapshots and patches, with every check.

Sans-IO: plain protobuf objects and bytes in, a new ``CollectionState`` and the decoded
``Mutation`` list out. Keys are handed in as a mapping of key id -> ``MutationKeys`` (the
caller reads them from its store first; ``needed_key_ids`` says which); a key that is not
there raises ``AppStateKeyMissing`` before any work is done.

What is checked (whatsmeow ``appstate/decode.go``; where Baileys is laxer, whatsmeow's
rule is kept, see ``docs/appstate.md``):

- each record: the value MAC (over op byte, key id, IV and ciphertext), the AES-256-CBC
  padding, that the plaintext is a ``SyncActionData``, the index MAC over its index,
  and that the index is a JSON array of strings;
- a snapshot: the LTHash of all its value MACs, then its snapshot MAC;
- a patch: its version is newer than the state's; the LTHash after subtracting what it
  overwrites or removes and adding what it sets, checked by the snapshot MAC; the patch
  MAC over the snapshot MAC, the value MACs, the version and the collection name.

Any failure raises an ``AppStateError`` (``AppStateMacMismatch`` for a MAC) and returns
nothing: the caller keeps its previous state, whole.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from google.protobuf.message import DecodeError as ProtobufDecodeError

from wamd.appstate import lthash
from wamd.appstate.keys import MutationKeys
from wamd.appstate.macs import (
    VALUE_MAC_SIZE,
    Operation,
    index_mac,
    patch_mac,
    snapshot_mac,
    value_mac,
)
from wamd.errors import AppStateError, AppStateKeyMissing, AppStateMacMismatch
from wamd.proto import server_sync_pb2, sync_action_pb2

__all__ = [
    "Applied",
    "CollectionState",
    "Mutation",
    "MutationSpec",
    "decode_patch",
    "decode_record",
    "decode_snapshot",
    "encode_patch",
    "encode_snapshot",
    "encrypt_record",
    "index_json",
    "needed_key_ids",
]

log = logging.getLogger(__name__)

_IV_SIZE = 16
_INDEX_MAC_SIZE = 32
_SET = server_sync_pb2.SyncdMutation.SET
_REMOVE = server_sync_pb2.SyncdMutation.REMOVE


@dataclass(frozen=True, slots=True)
class CollectionState:
    """What a client keeps per collection: version, LTHash, index MAC -> value MAC."""

    version: int = 0
    hash: bytes = field(default=lthash.EMPTY, repr=False)
    macs: Mapping[bytes, bytes] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Mutation:
    """One decoded, verified mutation."""

    operation: Operation
    index: tuple[str, ...]  # ("mute", "123@s.whatsapp.net"), ("contact", jid) ...
    value: sync_action_pb2.SyncActionValue
    version: int  # the action's own version (SyncActionData.version)
    index_mac: bytes = field(repr=False)
    value_mac: bytes = field(repr=False)
    patch_version: int = 0  # the collection version it came with


@dataclass(frozen=True, slots=True)
class Applied:
    """The result of a snapshot or patch: the state after it and what it changed."""

    state: CollectionState
    mutations: tuple[Mutation, ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MutationSpec:
    """A mutation to write: its index, value and the action's version."""

    index: tuple[str, ...]
    value: sync_action_pb2.SyncActionValue
    version: int
    operation: Operation = "set"


# ---------------------------------------------------------------------- keys


def needed_key_ids(
    snapshot: server_sync_pb2.SyncdSnapshot | None,
    patches: Iterable[server_sync_pb2.SyncdPatch] = (),
) -> set[bytes]:
    """Every key id a snapshot and patches are made with (what to read from the store)."""
    ids: set[bytes] = set()
    if snapshot is not None:
        ids.add(snapshot.keyID.ID)
        ids.update(r.keyID.ID for r in snapshot.records)
    for patch in patches:
        ids.add(patch.keyID.ID)
        ids.update(m.record.keyID.ID for m in patch.mutations)
    return ids


def _require_keys(name: str, ids: Iterable[bytes], keys: Mapping[bytes, MutationKeys]) -> None:
    missing = tuple(sorted(i for i in set(ids) if i not in keys))
    if missing:
        raise AppStateKeyMissing(missing, name)


# ---------------------------------------------------------------------- records


def decode_record(  # one record (for a snapshot every record is a SET)
    name: str,
    version: int,
    operation: Operation,
    record: server_sync_pb2.SyncdRecord,
    keys: Mapping[bytes, MutationKeys],
    position: int,
) -> Mutation:
    key_id = record.keyID.ID
    key = keys[key_id]
    blob = record.value.blob
    imac = record.index.blob
    if len(imac) != _INDEX_MAC_SIZE:
        raise AppStateError(
            f"app state {name} v{version}: mutation #{position} has an index MAC of "
            f"{len(imac)} bytes",
            name,
        )
    body_size = len(blob) - VALUE_MAC_SIZE - _IV_SIZE
    if body_size < 16 or body_size % 16:
        raise AppStateError(
            f"app state {name} v{version}: mutation #{position} has a value of {len(blob)} "
            "bytes (not IV + whole AES blocks + MAC)",
            name,
        )
    content, vmac = blob[:-VALUE_MAC_SIZE], blob[-VALUE_MAC_SIZE:]
    if value_mac(operation, content, key_id, key.value_mac) != vmac:
        raise AppStateMacMismatch("value", name, version, f"mutation #{position}")
    decryptor = Cipher(algorithms.AES(key.value_encryption), modes.CBC(content[:16])).decryptor()
    padded = decryptor.update(content[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plaintext = unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise AppStateError(
            f"app state {name} v{version}: mutation #{position} has bad padding", name
        ) from None
    try:
        data = sync_action_pb2.SyncActionData.FromString(plaintext)
    except ProtobufDecodeError:
        raise AppStateError(
            f"app state {name} v{version}: mutation #{position} is not a SyncActionData", name
        ) from None
    if index_mac(key.index, data.index) != imac:
        raise AppStateMacMismatch("index", name, version, f"mutation #{position}")
    try:
        index = json.loads(data.index)
    except (ValueError, UnicodeDecodeError):
        index = None
    if not isinstance(index, list) or not index or not all(isinstance(i, str) for i in index):
        raise AppStateError(
            f"app state {name} v{version}: mutation #{position}'s index is not a JSON "
            "array of strings",
            name,
        )
    return Mutation(operation, tuple(index), data.value, data.version, imac, vmac, version)


# ---------------------------------------------------------------------- snapshots, patches


def decode_snapshot(
    name: str, snapshot: server_sync_pb2.SyncdSnapshot, keys: Mapping[bytes, MutationKeys]
) -> Applied:
    """A whole collection: the state it describes (from nothing) and its records as SETs."""
    _require_keys(name, needed_key_ids(snapshot), keys)
    version = snapshot.version.version
    mutations = [
        decode_record(name, version, "set", record, keys, i + 1)
        for i, record in enumerate(snapshot.records)
    ]
    macs: dict[bytes, bytes] = {}
    for m in mutations:
        macs[m.index_mac] = m.value_mac
    # a snapshot lists each index once; if one came twice only the last counts
    digest = lthash.subtract_then_add(lthash.EMPTY, (), macs.values())
    expected = snapshot_mac(digest, version, name, keys[snapshot.keyID.ID].snapshot_mac)
    if expected != snapshot.mac:
        raise AppStateMacMismatch("snapshot", name, version)
    return Applied(CollectionState(version, digest, macs), tuple(mutations))


def decode_patch(
    name: str,
    patch: server_sync_pb2.SyncdPatch,
    state: CollectionState,
    keys: Mapping[bytes, MutationKeys],
) -> Applied:
    """One patch on top of ``state``: the state after it and its mutations, in order."""
    _require_keys(name, needed_key_ids(None, [patch]), keys)
    version = patch.version.version
    if version <= state.version:
        raise AppStateError(
            f"app state {name}: patch v{version} is not newer than the state (v{state.version})",
            name,
        )
    mutations: list[Mutation] = []
    for i, wire in enumerate(patch.mutations):
        if wire.operation not in (_SET, _REMOVE):
            raise AppStateError(
                f"app state {name} v{version}: mutation #{i + 1} has an unknown operation", name
            )
        operation: Operation = "set" if wire.operation == _SET else "remove"
        mutations.append(decode_record(name, version, operation, wire.record, keys, i + 1))
    macs = dict(state.macs)
    removed: list[bytes] = []
    added: list[bytes] = []
    warnings: list[str] = []
    for m in mutations:
        previous = macs.get(m.index_mac)
        if previous is not None:
            removed.append(previous)
        if m.operation == "set":
            added.append(m.value_mac)
            macs[m.index_mac] = m.value_mac
        else:
            if previous is None:
                # whatsmeow only warns (a REMOVE for an index never set is seen for one's
                # own contact); the snapshot MAC below says whether the state still agrees
                warnings.append(f"remove of an index never set in {name} v{version}")
            macs.pop(m.index_mac, None)
    digest = lthash.subtract_then_add(state.hash, removed, added)
    key = keys[patch.keyID.ID]
    snap = snapshot_mac(digest, version, name, key.snapshot_mac)
    if snap != patch.snapshotMAC:
        raise AppStateMacMismatch("snapshot", name, version, "LTHash after the patch")
    value_macs = (w.record.value.blob[-VALUE_MAC_SIZE:] for w in patch.mutations)
    if patch_mac(snap, value_macs, version, name, key.patch_mac) != patch.patchMAC:
        raise AppStateMacMismatch("patch", name, version)
    return Applied(CollectionState(version, digest, macs), tuple(mutations), tuple(warnings))


# ---------------------------------------------------------------------- encoding


def index_json(index: Sequence[str]) -> bytes:
    # the same bytes JSON.stringify makes (Baileys); the receiver MACs what it is given
    return json.dumps(list(index), separators=(",", ":"), ensure_ascii=False).encode()


def encrypt_record(
    spec: MutationSpec,
    key_id: bytes,
    keys: MutationKeys,
    iv: bytes,
) -> server_sync_pb2.SyncdRecord:
    """An encrypted record of ``spec`` (its value's timestamp as the caller set it)."""
    index = index_json(spec.index)
    data = sync_action_pb2.SyncActionData(
        index=index, value=spec.value, padding=b"", version=spec.version
    )
    padder = padding.PKCS7(128).padder()
    padded = padder.update(data.SerializeToString()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(keys.value_encryption), modes.CBC(iv)).encryptor()
    content = iv + encryptor.update(padded) + encryptor.finalize()
    vmac = value_mac(spec.operation, content, key_id, keys.value_mac)
    return server_sync_pb2.SyncdRecord(
        index=server_sync_pb2.SyncdIndex(blob=index_mac(keys.index, index)),
        value=server_sync_pb2.SyncdValue(blob=content + vmac),
        keyID=server_sync_pb2.KeyId(ID=key_id),
    )


def encode_patch(
    name: str,
    state: CollectionState,
    key_id: bytes,
    keys: MutationKeys,
    specs: Sequence[MutationSpec],
    timestamp_ms: int,
    random_bytes: Callable[[int], bytes] = os.urandom,
) -> tuple[server_sync_pb2.SyncdPatch, CollectionState]:
    """A patch making ``specs`` on top of ``state``, at version ``state.version + 1``.

    Like whatsmeow's EncodePatch the patch carries no ``version`` field (the server
    numbers it); its MACs are made for ``state.version + 1``. Returns the patch and the
    state the collection will have once the server has taken it.
    """
    if not specs:
        raise ValueError("a patch needs at least one mutation")
    mutations = []
    for spec in specs:
        value = sync_action_pb2.SyncActionValue()
        value.CopyFrom(spec.value)
        value.timestamp = timestamp_ms
        filled = MutationSpec(spec.index, value, spec.version, spec.operation)
        record = encrypt_record(filled, key_id, keys, random_bytes(_IV_SIZE))
        op = _SET if spec.operation == "set" else _REMOVE
        mutations.append(server_sync_pb2.SyncdMutation(operation=op, record=record))
    macs = dict(state.macs)
    removed: list[bytes] = []
    added: list[bytes] = []
    for w in mutations:
        imac, vmac = w.record.index.blob, w.record.value.blob[-VALUE_MAC_SIZE:]
        previous = macs.get(imac)
        if previous is not None:
            removed.append(previous)
        if w.operation == _SET:
            added.append(vmac)
            macs[imac] = vmac
        else:
            macs.pop(imac, None)
    version = state.version + 1
    digest = lthash.subtract_then_add(state.hash, removed, added)
    snap = snapshot_mac(digest, version, name, keys.snapshot_mac)
    patch = server_sync_pb2.SyncdPatch(
        mutations=mutations, snapshotMAC=snap, keyID=server_sync_pb2.KeyId(ID=key_id)
    )
    patch.patchMAC = patch_mac(
        snap,
        (w.record.value.blob[-VALUE_MAC_SIZE:] for w in mutations),
        version,
        name,
        keys.patch_mac,
    )
    return patch, CollectionState(version, digest, macs)


def encode_snapshot(
    name: str,
    version: int,
    records: Sequence[server_sync_pb2.SyncdRecord],
    key_id: bytes,
    keys: MutationKeys,
) -> server_sync_pb2.SyncdSnapshot:
    """A snapshot of ``records`` (the collection's current SETs) at ``version``."""
    digest = lthash.subtract_then_add(
        lthash.EMPTY, (), (r.value.blob[-VALUE_MAC_SIZE:] for r in records)
    )
    return server_sync_pb2.SyncdSnapshot(
        version=server_sync_pb2.SyncdVersion(version=version),
        records=records,
        mac=snapshot_mac(digest, version, name, keys.snapshot_mac),
        keyID=server_sync_pb2.KeyId(ID=key_id),
    )
