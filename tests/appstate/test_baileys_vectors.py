"""The app-state crypto against a second implementation: Baileys from npm, run in node.

Both directions: patches Baileys encodes are verified and applied here with the same
resulting LTHash and version; patches and a snapshot encoded here pass Baileys' own
checks (value and index MACs, LTHash, snapshot and patch MACs) with the same hash. The
LTHash itself is compared on inputs that wrap the 16-bit lanes. Skipped, saying why,
when node or the Baileys package cannot be had (``tests/interop/conftest.py``).
"""

from __future__ import annotations

import random

import pytest

from wamd.appstate import CollectionState, decode_patch, encode_patch, encode_snapshot, lthash
from wamd.appstate.codec import encrypt_record
from wamd.errors import AppStateMacMismatch
from wamd.proto import server_sync_pb2

from .helpers import (
    ALICE,
    BOB,
    KEY_DATA,
    KEY_ID,
    KEYS,
    archive,
    b64,
    contact,
    mute,
    run_baileys,
    unb64,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_lthash_add_and_subtract_match_baileys() -> None:
    rng = random.Random(16)
    base = rng.randbytes(128)
    subtract = [rng.randbytes(32) for _ in range(5)]
    add = [rng.randbytes(32) for _ in range(7)]
    theirs = run_baileys(
        {
            "mode": "lthash",
            "base": b64(base),
            "subtract": [b64(s) for s in subtract],
            "add": [b64(a) for a in add],
        }
    )
    assert unb64(theirs["hash"]) == lthash.subtract_then_add(base, subtract, add)
    # adding and then subtracting the same value is the identity, lane wrap-around included
    full = bytes([0xFF] * 128)
    assert lthash.subtract_then_add(lthash.subtract_then_add(full, [], add), add, []) == full


def test_patches_baileys_encodes_verify_and_apply_here() -> None:
    steps = [
        {
            "index": ["mute", ALICE],
            "apiVersion": 2,
            "syncAction": {"muteAction": {"muted": True, "muteEndTimestamp": 1700000000000}},
        },
        {
            "index": ["archive", BOB],
            "apiVersion": 3,
            "syncAction": {"archiveChatAction": {"archived": True}},
        },
        {
            "index": ["mute", ALICE],
            "apiVersion": 2,  # overwrites the first: a subtraction
            "syncAction": {"muteAction": {"muted": False}},
        },
    ]
    theirs = run_baileys(
        {
            "mode": "encode",
            "keyId": b64(KEY_ID),
            "keyData": b64(KEY_DATA),
            "name": "regular_high",
            "steps": steps,
        }
    )
    state = CollectionState()
    seen = []
    for raw in theirs["patches"]:
        patch = server_sync_pb2.SyncdPatch.FromString(unb64(raw))
        applied = decode_patch("regular_high", patch, state, KEYS)
        state = applied.state
        seen += [(m.operation, m.index) for m in applied.mutations]
    assert state.version == theirs["version"] == 3
    assert state.hash == unb64(theirs["hash"])
    assert seen == [("set", ("mute", ALICE)), ("set", ("archive", BOB)), ("set", ("mute", ALICE))]
    assert len(state.macs) == 2

    # one flipped ciphertext byte in Baileys' patch: the value MAC refuses it
    patch = server_sync_pb2.SyncdPatch.FromString(unb64(theirs["patches"][0]))
    blob = bytearray(patch.mutations[0].record.value.blob)
    blob[20] ^= 1
    patch.mutations[0].record.value.blob = bytes(blob)
    with pytest.raises(AppStateMacMismatch) as caught:
        decode_patch("regular_high", patch, CollectionState(), KEYS)
    assert caught.value.kind == "value"


def _versioned(patch: server_sync_pb2.SyncdPatch, version: int) -> str:
    sent = server_sync_pb2.SyncdPatch()
    sent.CopyFrom(patch)
    sent.version.version = version  # what the server adds when it serves the patch
    return b64(sent.SerializeToString())


def test_patches_and_snapshot_encoded_here_pass_baileys_checks() -> None:
    rng = random.Random(7)
    state = CollectionState()
    served = []
    for specs in (
        [contact(ALICE, "Alice Liddell"), contact(BOB, "Bob Builder")],
        [contact(ALICE, "Alice L.")],  # overwrite
        [contact(BOB, "Bob Builder", remove=True)],  # a REMOVE (op byte 2)
    ):
        patch, state = encode_patch(
            "critical_unblock_low",
            state,
            KEY_ID,
            KEYS[KEY_ID],
            specs,
            1_700_000_000_000,
            rng.randbytes,
        )
        served.append(_versioned(patch, state.version))
    theirs = run_baileys(
        {
            "mode": "decode",
            "keyId": b64(KEY_ID),
            "keyData": b64(KEY_DATA),
            "name": "critical_unblock_low",
            "patches": served,
        }
    )
    assert "error" not in theirs, theirs
    assert theirs["version"] == state.version == 3
    assert unb64(theirs["hash"]) == state.hash
    names = {
        tuple(m["index"]): m["value"].get("contactAction", {}).get("fullName")
        for m in theirs["mutations"]
    }
    assert names[("contact", ALICE)] == "Alice L."

    # a snapshot of the current records, checked by Baileys' snapshot decoding
    records = [
        encrypt_record(contact(ALICE, "Alice L."), KEY_ID, KEYS[KEY_ID], rng.randbytes(16)),
        encrypt_record(archive(BOB), KEY_ID, KEYS[KEY_ID], rng.randbytes(16)),
        encrypt_record(mute(BOB, -1), KEY_ID, KEYS[KEY_ID], rng.randbytes(16)),
    ]
    snapshot = encode_snapshot("regular", 9, records, KEY_ID, KEYS[KEY_ID])
    theirs = run_baileys(
        {
            "mode": "decode",
            "keyId": b64(KEY_ID),
            "keyData": b64(KEY_DATA),
            "name": "regular",
            "snapshot": b64(snapshot.SerializeToString()),
            "patches": [],
        }
    )
    assert "error" not in theirs, theirs
    assert theirs["version"] == 9 and len(theirs["mutations"]) == 3

    # and Baileys refuses what it should: a patch MAC made for another version
    patch, _ = encode_patch(
        "regular", CollectionState(), KEY_ID, KEYS[KEY_ID], [mute(ALICE, -1)], 1, rng.randbytes
    )
    theirs = run_baileys(
        {
            "mode": "decode",
            "keyId": b64(KEY_ID),
            "keyData": b64(KEY_DATA),
            "name": "regular",
            "patches": [_versioned(patch, 2)],
        }
    )
    assert "error" in theirs
