"""Prekeys on the wire: the upload of our keys and the parsing of a fetched bundle.

Both directions use the same child shapes (whatsmeow ``prekeys.go``, Baileys
``signal.ts``): a one-time prekey is ``<key><id>3 bytes</id><value>32 bytes</value></key>``
and the signed prekey is ``<skey>`` with an extra ``<signature>64 bytes</signature>``.
The upload ``iq`` (``xmlns="encrypt" type="set"``) carries ``registration``, ``type``,
``identity``, ``list`` and ``skey``; a key fetch answers one ``<user jid=...>`` per device
with ``registration``, ``identity``, ``skey`` and optionally ``key`` (whatsmeow also
accepts them wrapped in a ``<keys>`` child, so we do too).
"""

from __future__ import annotations

from collections.abc import Sequence

from wamd.binary.jid import JID
from wamd.binary.node import Node
from wamd.crypto import DJB_TYPE, KeyPair, SignedKeyPair
from wamd.errors import InvalidKey, ProtocolError, RequestError
from wamd.signal.session import PreKeyBundle

__all__ = ["parse_bundle", "prekey_node", "signed_prekey_node", "upload_children"]

KEY_ID_LENGTH = 3  # <id> of a (signed) prekey: big-endian 24-bit id
KEY_LENGTH = 32  # <value> and <identity>: raw Curve25519 public key, no type byte
SIGNATURE_LENGTH = 64  # <signature> of the signed prekey: XEdDSA
REGISTRATION_LENGTH = 4  # <registration>: big-endian 32-bit registration id


def prekey_node(key_id: int, public: bytes) -> Node:
    """``<key>`` for one one-time prekey (``public`` is the 32-byte raw key)."""
    return Node(
        "key",
        {},
        [Node("id", {}, key_id.to_bytes(KEY_ID_LENGTH, "big")), Node("value", {}, public)],
    )


def signed_prekey_node(signed: SignedKeyPair) -> Node:
    """``<skey>`` for our signed prekey."""
    return Node(
        "skey",
        {},
        [
            Node("id", {}, signed.key_id.to_bytes(KEY_ID_LENGTH, "big")),
            Node("value", {}, signed.key_pair.public),
            Node("signature", {}, signed.signature),
        ],
    )


def upload_children(
    registration_id: int,
    identity_public: bytes,
    prekeys: Sequence[tuple[int, KeyPair]],
    signed: SignedKeyPair,
) -> list[Node]:
    """The children of the prekey upload ``iq``, in the order both clients send them."""
    return [
        Node("registration", {}, registration_id.to_bytes(REGISTRATION_LENGTH, "big")),
        Node("type", {}, bytes((DJB_TYPE,))),  # key type byte: Curve25519
        Node("identity", {}, identity_public),
        Node("list", {}, [prekey_node(key_id, pair.public) for key_id, pair in prekeys]),
        signed_prekey_node(signed),
    ]


def _bytes(parent: Node, tag: str, length: int, what: str) -> bytes:
    child = parent.get_child(tag)
    value = child.content_bytes() if child is not None else None
    if value is None:
        raise InvalidKey(f"{what}: missing <{tag}>")
    if len(value) != length:
        raise InvalidKey(f"{what}: <{tag}> has {len(value)} bytes, expected {length}")
    return value


def _key(node: Node, what: str) -> tuple[int, bytes]:
    key_id = int.from_bytes(_bytes(node, "id", KEY_ID_LENGTH, what), "big")
    return key_id, _bytes(node, "value", KEY_LENGTH, what)


def parse_bundle(node: Node, device_id: int | None = None) -> PreKeyBundle:
    """A fetched ``<user>`` node as a ``PreKeyBundle``.

    ``device_id`` defaults to the device of the node's ``jid`` attribute. An ``<error>``
    child (the server has no keys for the device) raises ``RequestError``; missing or
    malformed keys raise ``InvalidKey``. The signed prekey's signature is checked later,
    when a session is built from the bundle.
    """
    what = f"prekey bundle of {node.attr('jid', '?')}"
    error = node.get_child("error")
    if error is not None:
        code = error.attr_int("code", 0) or 0
        raise RequestError(code, error.attr("text", "") or "", f"{what}: server error {code}")
    if device_id is None:
        try:
            jid = node.jid_attr("jid")
        except ProtocolError as exc:
            raise InvalidKey(f"{what}: {exc}") from None
        device_id = jid.device if isinstance(jid, JID) else 0
    registration_id = int.from_bytes(_bytes(node, "registration", REGISTRATION_LENGTH, what), "big")
    keys = node.get_child("keys") or node
    identity = _bytes(keys, "identity", KEY_LENGTH, what)
    skey = keys.get_child("skey")
    if skey is None:
        raise InvalidKey(f"{what}: missing <skey>")
    signed_id, signed_public = _key(skey, what)
    signature = _bytes(skey, "signature", SIGNATURE_LENGTH, what)
    one_time = keys.get_child("key")
    prekey_id: int | None = None
    prekey: bytes | None = None
    if one_time is not None:
        prekey_id, prekey = _key(one_time, what)
    return PreKeyBundle(
        registration_id,
        device_id,
        identity,
        signed_id,
        signed_public,
        signature,
        prekey_id,
        prekey,
    )
