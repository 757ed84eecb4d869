"""A Signal peer backed by python-axolotl, driven over stdin/stdout with JSON lines.

Runs in its own virtualenv (python-axolotl needs protobuf's pure-Python runtime), started
by tests/signal/test_interop.py. Commands (bytes as hex):

  {"op": "bundle"}                                  -> our prekey bundle
  {"op": "init", "bundle": {...}}                   start a session from wamd's bundle
  {"op": "encrypt", "text": hex}                    -> {"type": "pkmsg"|"msg", "data": hex}
  {"op": "decrypt", "type": ..., "data": hex}       -> {"text": hex}
  {"op": "group_create"}                            -> {"skdm": hex}
  {"op": "group_process", "skdm": hex}
  {"op": "group_encrypt", "text": hex}              -> {"data": hex}
  {"op": "group_decrypt", "data": hex}              -> {"text": hex}
"""

from __future__ import annotations

import json
import sys
import traceback

from axolotl.axolotladdress import AxolotlAddress
from axolotl.ecc.curve import Curve
from axolotl.groups.groupcipher import GroupCipher
from axolotl.groups.groupsessionbuilder import GroupSessionBuilder
from axolotl.groups.senderkeyname import SenderKeyName
from axolotl.identitykey import IdentityKey
from axolotl.protocol.prekeywhispermessage import PreKeyWhisperMessage
from axolotl.protocol.senderkeydistributionmessage import SenderKeyDistributionMessage
from axolotl.protocol.whispermessage import WhisperMessage
from axolotl.sessionbuilder import SessionBuilder
from axolotl.sessioncipher import SessionCipher
from axolotl.state.prekeybundle import PreKeyBundle
from axolotl.state.prekeyrecord import PreKeyRecord
from axolotl.state.signedprekeyrecord import SignedPreKeyRecord
from axolotl.tests.groups.inmemorysenderkeystore import InMemorySenderKeyStore
from axolotl.tests.inmemoryaxolotlstore import InMemoryAxolotlStore

PEER = ("wamd", 1)
GROUP = SenderKeyName("group@g.us", AxolotlAddress("wamd", 1))
OWN = SenderKeyName("group@g.us", AxolotlAddress("axolotl", 1))

store = InMemoryAxolotlStore()
senders = InMemorySenderKeyStore()


def cipher() -> SessionCipher:
    return SessionCipher(store, store, store, store, *PEER)


def handle(cmd: dict) -> dict:
    op = cmd["op"]
    if op == "bundle":
        identity = store.getIdentityKeyPair()
        prekey = Curve.generateKeyPair()
        signed = Curve.generateKeyPair()
        signature = Curve.calculateSignature(
            identity.getPrivateKey(), signed.getPublicKey().serialize()
        )
        store.storePreKey(31, PreKeyRecord(31, prekey))
        store.storeSignedPreKey(22, SignedPreKeyRecord(22, 0, signed, signature))
        return {
            "registration_id": store.getLocalRegistrationId(),
            "identity": identity.getPublicKey().serialize().hex(),
            "signed_prekey_id": 22,
            "signed_prekey": signed.getPublicKey().serialize().hex(),
            "signature": bytes(signature).hex(),
            "prekey_id": 31,
            "prekey": prekey.getPublicKey().serialize().hex(),
        }
    if op == "init":
        b = cmd["bundle"]
        bundle = PreKeyBundle(
            b["registration_id"],
            1,
            b.get("prekey_id"),
            Curve.decodePoint(bytes.fromhex(b["prekey"]), 0) if b.get("prekey") else None,
            b["signed_prekey_id"],
            Curve.decodePoint(bytes.fromhex(b["signed_prekey"]), 0),
            bytes.fromhex(b["signature"]),
            IdentityKey(bytes.fromhex(b["identity"]), 0),
        )
        SessionBuilder(store, store, store, store, *PEER).processPreKeyBundle(bundle)
        return {}
    if op == "encrypt":
        message = cipher().encrypt(bytes.fromhex(cmd["text"]))
        kind = "pkmsg" if isinstance(message, PreKeyWhisperMessage) else "msg"
        return {"type": kind, "data": bytes(message.serialize()).hex()}
    if op == "decrypt":
        data = bytes.fromhex(cmd["data"])
        if cmd["type"] == "pkmsg":
            text = cipher().decryptPkmsg(PreKeyWhisperMessage(serialized=data), False)
        else:
            text = cipher().decryptMsg(WhisperMessage(serialized=data), False)
        return {"text": bytes(text).hex()}
    if op == "group_create":
        skdm = GroupSessionBuilder(senders).create(OWN)
        return {"skdm": bytes(skdm.serialize()).hex()}
    if op == "group_process":
        skdm = SenderKeyDistributionMessage(serialized=bytes.fromhex(cmd["skdm"]))
        GroupSessionBuilder(senders).process(GROUP, skdm)
        return {}
    if op == "group_encrypt":
        return {"data": bytes(GroupCipher(senders, OWN).encrypt(bytes.fromhex(cmd["text"]))).hex()}
    if op == "group_decrypt":
        text = GroupCipher(senders, GROUP).decrypt(bytes.fromhex(cmd["data"]))
        return {"text": bytes(text).hex()}
    raise ValueError(f"unknown op {op}")


def main() -> None:
    for line in sys.stdin:
        try:
            reply = {"ok": True, **handle(json.loads(line))}
        except Exception as exc:  # report, keep serving
            reply = {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}",
                "trace": traceback.format_exc(),
            }
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
