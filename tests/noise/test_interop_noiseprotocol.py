"""Cross-check with an independent Noise implementation (the ``noiseprotocol`` package).

Its SymmetricState/CipherState are driven step by step through WhatsApp's sequence (which
is textbook XX minus hashing the empty first payload). Transcript hash, chaining key and
transport keys must equal ours in both roles. Its AES-GCM nonce (4 zero bytes + 64-bit
counter) equals WhatsApp's (8 zero bytes + 32-bit counter) for counters below 2^32.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from noise.backends.default import noise_backend
from noise.noise_protocol import NoiseProtocol
from noise.state import CipherState, SymmetricState

from wamd.crypto import KeyPair, generate_keypair
from wamd.noise import ClientHandshake, ServerHandshake, connection_header
from wamd.proto import wa6_pb2

from .conftest import Server


def dh(private: KeyPair, public: bytes) -> bytes:
    return X25519PrivateKey.from_private_bytes(private.private).exchange(
        X25519PublicKey.from_public_bytes(public)
    )


def test_transcript_matches_independent_implementation(server: Server) -> None:
    e, re_, s = generate_keypair(), generate_keypair(), generate_keypair()
    client = ClientHandshake(s, server.ca.root_public_key, ephemeral=e)
    responder = ServerHandshake(server.static, server.chain, ephemeral=re_)
    hello = client.hello()
    server_hello = responder.read_client_hello(hello)
    client.read_server_hello(server_hello)
    payload = b"the client payload"
    finish = client.finish(payload)
    assert responder.read_client_finish(finish) == payload

    protocol = NoiseProtocol(b"Noise_XX_25519_AESGCM_SHA256", noise_backend)
    theirs = SymmetricState.initialize_symmetric(protocol)
    theirs.mix_hash(connection_header(3))  # prologue
    theirs.mix_hash(e.public)  # -> e   (no MixHash of the empty payload: WhatsApp's way)
    sh = wa6_pb2.HandshakeMessage.FromString(server_hello).serverHello
    theirs.mix_hash(sh.ephemeral)  # <- e
    theirs.mix_key(dh(e, sh.ephemeral))  # ee
    assert theirs.decrypt_and_hash(sh.static) == server.static.public  # s
    theirs.mix_key(dh(e, server.static.public))  # es
    assert theirs.decrypt_and_hash(sh.payload) == server.chain
    cf = wa6_pb2.HandshakeMessage.FromString(finish).clientFinish
    assert theirs.encrypt_and_hash(s.public) == cf.static  # -> s
    theirs.mix_key(dh(s, sh.ephemeral))  # se
    assert theirs.encrypt_and_hash(payload) == cf.payload

    assert theirs.h == client.state.h == responder.state.h
    assert theirs.ck == client.state.ck == responder.state.ck

    k1, k2 = protocol.hkdf(theirs.ck, b"", 2)
    send, recv = CipherState(protocol), CipherState(protocol)
    send.initialize_key(k1)
    recv.initialize_key(k2)
    ours_client, ours_server = client.transport(), responder.transport()
    for n in range(3):
        up = send.encrypt_with_ad(b"", b"frame %d" % n)
        assert up == ours_client.encrypt(b"frame %d" % n)
        assert ours_server.decrypt(up) == b"frame %d" % n
        down = ours_server.encrypt(b"reply %d" % n)
        assert recv.decrypt_with_ad(b"", down) == b"reply %d" % n
