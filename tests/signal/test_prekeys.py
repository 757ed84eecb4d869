"""Prekey upload nodes and fetched-bundle parsing, checked by building a session from them."""

from __future__ import annotations

import pytest

from wamd.binary.node import Node
from wamd.crypto import SignedKeyPair, generate_keypair
from wamd.errors import InvalidKey, RequestError
from wamd.signal import (
    SessionRecord,
    decrypt_prekey_message,
    encrypt,
    generate_prekeys,
    initiate_session,
    parse_bundle,
    upload_children,
)


def _user_node(children: list[Node], nested: bool) -> Node:
    """What a key fetch returns for ``15550000009:4``, built from an upload's children."""
    by_tag = {child.tag: child for child in children}
    keys = [by_tag["identity"], by_tag["skey"], *by_tag["list"].get_children()[:1]]
    body = [Node("keys", {}, keys)] if nested else keys
    return Node("user", {"jid": "15550000009:4@s.whatsapp.net"}, [by_tag["registration"], *body])


@pytest.mark.parametrize("nested", [False, True])
def test_upload_then_fetch_builds_a_working_session(nested: bool) -> None:
    identity = generate_keypair()
    signed = SignedKeyPair.generate(identity, 0xABCDEF)
    prekeys = generate_prekeys(0xFFFFFE, 3)
    children = upload_children(4321, identity.public, prekeys, signed)
    assert [c.tag for c in children] == ["registration", "type", "identity", "list", "skey"]
    assert children[0].content == (4321).to_bytes(4, "big")
    assert children[1].content == b"\x05"
    assert [k.require_child("id").content for k in children[3]] == [
        b"\xff\xff\xfe",
        b"\xff\xff\xff",
        b"\x00\x00\x01",
    ]

    bundle = parse_bundle(_user_node(children, nested))
    assert (bundle.registration_id, bundle.device_id) == (4321, 4)
    assert (bundle.signed_prekey_id, bundle.prekey_id) == (0xABCDEF, 0xFFFFFE)
    assert bundle.identity_key == identity.public

    alice = generate_keypair()
    record = SessionRecord()
    initiate_session(record, alice, 1, bundle)
    kind, data = encrypt(record, b"hello")
    assert kind == "pkmsg"
    bob_record = SessionRecord()
    plaintext, parsed = decrypt_prekey_message(
        bob_record, identity, 4321, data, signed.key_pair, prekeys[0][1]
    )
    assert plaintext == b"hello"
    assert parsed.prekey_id == prekeys[0][0]


def test_bundle_without_one_time_prekey() -> None:
    identity = generate_keypair()
    children = upload_children(7, identity.public, [], SignedKeyPair.generate(identity, 1))
    bundle = parse_bundle(_user_node(children, False), device_id=9)
    assert (bundle.device_id, bundle.prekey_id, bundle.prekey) == (9, None, None)


def test_malformed_bundles_raise_typed_errors() -> None:
    identity = generate_keypair()
    children = upload_children(7, identity.public, [], SignedKeyPair.generate(identity, 1))
    good = _user_node(children, False)
    assert isinstance(good.content, list)

    without_skey = Node(good.tag, good.attrs, [c for c in good.content if c.tag != "skey"])
    with pytest.raises(InvalidKey, match="missing <skey>"):
        parse_bundle(without_skey)

    short_identity = Node(
        good.tag,
        good.attrs,
        [Node("identity", {}, b"\x01" * 31) if c.tag == "identity" else c for c in good.content],
    )
    with pytest.raises(InvalidKey, match="<identity> has 31 bytes"):
        parse_bundle(short_identity)

    with pytest.raises(InvalidKey, match="missing <registration>"):
        parse_bundle(Node("user", {"jid": "1@s.whatsapp.net"}, []))

    error = Node("user", {"jid": "1@s.whatsapp.net"}, [Node("error", {"code": "404"})])
    with pytest.raises(RequestError) as info:
        parse_bundle(error)
    assert info.value.code == 404
