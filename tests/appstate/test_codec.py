"""The sans-IO app-state codec: key expansion, MACs, LTHash, snapshots, patches, and
every check failing the way it should (a typed error, nothing half-applied)."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from wamd.appstate import (
    CollectionState,
    codec,
    decode_patch,
    decode_snapshot,
    encode_patch,
    encode_snapshot,
    expand_keys,
    lthash,
    needed_key_ids,
)
from wamd.appstate.codec import encrypt_record
from wamd.appstate.macs import value_mac
from wamd.errors import AppStateError, AppStateKeyMissing, AppStateMacMismatch
from wamd.proto import server_sync_pb2

from .helpers import ALICE, BOB, KEY_ID, KEYS, archive, contact, mute, unb64

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "appstate_baileys.json"
RNG = random.Random(3)
NOW = 1_700_000_000_000


def _patch(state: CollectionState, *specs, name: str = "regular_high"):  # type: ignore[no-untyped-def]
    patch, after = encode_patch(name, state, KEY_ID, KEYS[KEY_ID], list(specs), NOW, RNG.randbytes)
    patch.version.version = after.version  # as the server serves it
    return patch, after


def test_key_expansion_is_hkdf_sha256_of_mutation_keys() -> None:
    data = bytes(range(32))
    out = HKDF(SHA256(), 160, None, b"WhatsApp Mutation Keys").derive(data)
    keys = expand_keys(data)
    assert (keys.index, keys.value_encryption, keys.value_mac) == (out[:32], out[32:64], out[64:96])
    assert (keys.snapshot_mac, keys.patch_mac) == (out[96:128], out[128:])
    assert data.hex() not in repr(keys) and out[:32].hex() not in repr(keys)


def test_value_mac_starts_with_op_byte_one_for_set_two_for_remove() -> None:
    key, key_id, data = bytes(32), b"\x00\x01", b"x" * 48
    trailer = (len(key_id) + 1).to_bytes(8, "big")
    for op, byte in (("set", b"\x01"), ("remove", b"\x02")):
        expected = hmac.digest(key, byte + key_id + data + trailer, hashlib.sha512)[:32]
        assert value_mac(op, data, key_id, key) == expected  # type: ignore[arg-type]


def test_baileys_golden_patches_apply() -> None:
    doc = json.loads(VECTORS.read_text())
    keys = {unb64(doc["key_id"]): expand_keys(unb64(doc["key_data"]))}
    state = CollectionState()
    for raw in doc["patches"]:
        state = decode_patch(
            doc["collection"], server_sync_pb2.SyncdPatch.FromString(unb64(raw)), state, keys
        ).state
    assert (state.version, state.hash) == (doc["version"], unb64(doc["hash"]))


def test_patch_chain_round_trip_and_remove() -> None:
    p1, s1 = _patch(CollectionState(), mute(ALICE, -1), archive(BOB))
    p2, s2 = _patch(s1, mute(ALICE, 5))  # overwrites
    p3, s3 = _patch(s2, archive(BOB).__class__(("archive", BOB), archive(BOB).value, 3, "remove"))
    state = CollectionState()
    for patch in (p1, p2, p3):
        applied = decode_patch("regular_high", patch, state, KEYS)
        state = applied.state
    assert state == s3 or (state.version, state.hash, dict(state.macs)) == (
        3,
        s3.hash,
        dict(s3.macs),
    )
    assert len(state.macs) == 1
    # the hash is the LTHash of the values still set
    assert state.hash == lthash.subtract_then_add(lthash.EMPTY, [], state.macs.values())
    assert applied.mutations[0].operation == "remove"


def test_snapshot_then_patch() -> None:
    records = [
        encrypt_record(
            contact(f"1555000{i:04d}@s.whatsapp.net", f"N {i}"),
            KEY_ID,
            KEYS[KEY_ID],
            RNG.randbytes(16),
        )
        for i in range(20)
    ]
    snapshot = encode_snapshot("critical_unblock_low", 4, records, KEY_ID, KEYS[KEY_ID])
    applied = decode_snapshot("critical_unblock_low", snapshot, KEYS)
    assert applied.state.version == 4 and len(applied.mutations) == 20
    patch, after = _patch(applied.state, contact(ALICE, "Alice"), name="critical_unblock_low")
    assert decode_patch("critical_unblock_low", patch, applied.state, KEYS).state.hash == after.hash
    # tampered snapshot MAC, and a record dropped from it: both refused
    bad = server_sync_pb2.SyncdSnapshot()
    bad.CopyFrom(snapshot)
    del bad.records[0]
    with pytest.raises(AppStateMacMismatch, match="snapshot MAC"):
        decode_snapshot("critical_unblock_low", bad, KEYS)
    with pytest.raises(AppStateMacMismatch):
        decode_snapshot("regular", snapshot, KEYS)  # the name is in the MAC


def _tampered(patch: server_sync_pb2.SyncdPatch) -> server_sync_pb2.SyncdPatch:
    copy = server_sync_pb2.SyncdPatch()
    copy.CopyFrom(patch)
    return copy


def test_every_mac_is_checked() -> None:
    p1, s1 = _patch(CollectionState(), mute(ALICE, -1))
    p2, _ = _patch(s1, archive(BOB))

    wrong_patch_mac = _tampered(p2)
    wrong_patch_mac.patchMAC = bytes(32)
    wrong_snapshot = _tampered(p2)
    wrong_snapshot.snapshotMAC = bytes(32)
    wrong_index = _tampered(p2)
    wrong_index.mutations[0].record.index.blob = bytes(32)
    wrong_value = _tampered(p2)
    blob = bytearray(wrong_value.mutations[0].record.value.blob)
    blob[-1] ^= 1
    wrong_value.mutations[0].record.value.blob = bytes(blob)
    wrong_op = _tampered(p2)  # a SET relabelled REMOVE: the op byte is in the value MAC
    wrong_op.mutations[0].operation = server_sync_pb2.SyncdMutation.REMOVE
    for patch, kind in (
        (wrong_patch_mac, "patch"),
        (wrong_snapshot, "snapshot"),
        (wrong_index, "index"),
        (wrong_value, "value"),
        (wrong_op, "value"),
    ):
        with pytest.raises(AppStateMacMismatch) as caught:
            decode_patch("regular_high", patch, s1, KEYS)
        assert caught.value.kind == kind and caught.value.collection == "regular_high"
    # a patch applied on a state it was not made for (its predecessor missing)
    with pytest.raises(AppStateMacMismatch):
        decode_patch("regular_high", p2, CollectionState(), KEYS)
    # an old patch again
    with pytest.raises(AppStateError, match="not newer"):
        decode_patch("regular_high", p1, s1, KEYS)


def test_malformed_records_and_missing_keys_are_typed_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    p1, _ = _patch(CollectionState(), mute(ALICE, -1))
    short = _tampered(p1)
    short.mutations[0].record.value.blob = b"\x00" * 40
    with pytest.raises(AppStateError, match="value of 40 bytes"):
        decode_patch("regular_high", short, CollectionState(), KEYS)
    with pytest.raises(AppStateKeyMissing) as caught:
        decode_patch("regular_high", p1, CollectionState(), {})
    assert caught.value.key_ids == (KEY_ID,) and needed_key_ids(None, [p1]) == {KEY_ID}
    # a record whose index is not a JSON array of strings, encrypted and MACed correctly
    with monkeypatch.context() as patch:
        patch.setattr(codec, "index_json", lambda index: b'{"mute": 1}')
        record = encrypt_record(mute(ALICE, 1), KEY_ID, KEYS[KEY_ID], bytes(16))
    snap = encode_snapshot("regular", 1, [record], KEY_ID, KEYS[KEY_ID])
    with pytest.raises(AppStateError, match="not a JSON array"):
        decode_snapshot("regular", snap, KEYS)
