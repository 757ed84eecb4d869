from __future__ import annotations

import time

import pytest

from wamd.crypto import generate_keypair
from wamd.errors import HandshakeError
from wamd.noise import CertificateAuthority, ClientHandshake, ServerHandshake, verify_cert_chain
from wamd.noise.cert import WHATSAPP_ROOT_PUBLIC_KEY
from wamd.proto import cert_pb2

from .conftest import Server


def test_valid_chain(server: Server) -> None:
    verify_cert_chain(server.chain, server.static.public, server.ca.root_public_key)


def test_wrong_root_key(server: Server) -> None:
    with pytest.raises(HandshakeError, match="not signed by the trusted root"):
        verify_cert_chain(server.chain, server.static.public, generate_keypair().public)


def test_whatsapp_root_is_pinned_by_default(server: Server) -> None:
    assert len(WHATSAPP_ROOT_PUBLIC_KEY) == 32
    with pytest.raises(HandshakeError, match="trusted root"):
        verify_cert_chain(server.chain, server.static.public, WHATSAPP_ROOT_PUBLIC_KEY)


def test_leaf_must_bind_the_static_key(server: Server) -> None:
    # a genuine chain replayed by a server with another static key
    impostor = generate_keypair()
    with pytest.raises(HandshakeError, match="leaf key does not match"):
        verify_cert_chain(server.chain, impostor.public, server.ca.root_public_key)
    client = ClientHandshake(generate_keypair(), server.ca.root_public_key)
    responder = ServerHandshake(impostor, server.chain)
    with pytest.raises(HandshakeError, match="leaf key does not match"):
        client.read_server_hello(responder.read_client_hello(client.hello()))


def test_expired_and_not_yet_valid(server: Server) -> None:
    now = int(time.time())
    expired = server.ca.issue(server.static.public, not_before=now - 100, not_after=now - 10)
    with pytest.raises(HandshakeError, match="expired"):
        verify_cert_chain(expired, server.static.public, server.ca.root_public_key)
    future = server.ca.issue(server.static.public, not_before=now + 100, not_after=now + 200)
    with pytest.raises(HandshakeError, match="not valid yet"):
        verify_cert_chain(future, server.static.public, server.ca.root_public_key)
    # the injected clock decides
    verify_cert_chain(future, server.static.public, server.ca.root_public_key, now=now + 150)


def test_issuer_serials(server: Server) -> None:
    other = CertificateAuthority(server.ca.root, root_serial=7)
    chain = other.issue(server.static.public)
    with pytest.raises(HandshakeError, match="intermediate issuer serial 7"):
        verify_cert_chain(chain, server.static.public, server.ca.root_public_key)
    verify_cert_chain(chain, server.static.public, server.ca.root_public_key, root_serial=7)
    mismatched = CertificateAuthority(server.ca.root, intermediate_serial=1, leaf_serial=2)
    parsed = cert_pb2.CertChain.FromString(mismatched.issue(server.static.public))
    details = cert_pb2.CertChain.NoiseCertificate.Details.FromString(parsed.leaf.details)
    details.issuerSerial = 99
    inter = cert_pb2.CertChain.NoiseCertificate.Details.FromString(parsed.intermediate.details)
    assert inter.serial == 1
    parsed.leaf.details = details.SerializeToString()
    with pytest.raises(HandshakeError):  # the signature breaks first, then the serial would
        verify_cert_chain(
            parsed.SerializeToString(), server.static.public, server.ca.root_public_key
        )


def test_leaf_issuer_serial_checked_even_with_valid_signature(server: Server) -> None:
    inter_key = generate_keypair()
    ca = CertificateAuthority(server.ca.root, intermediate_serial=5)
    chain = cert_pb2.CertChain.FromString(ca.issue(server.static.public, intermediate=inter_key))
    details = cert_pb2.CertChain.NoiseCertificate.Details.FromString(chain.leaf.details)
    details.issuerSerial = 6
    chain.leaf.details = details.SerializeToString()
    chain.leaf.signature = inter_key.sign(chain.leaf.details)
    with pytest.raises(HandshakeError, match="leaf issuer serial 6, expected 5"):
        verify_cert_chain(
            chain.SerializeToString(), server.static.public, server.ca.root_public_key
        )


@pytest.mark.parametrize(
    "payload", [b"", b"\xff\xff\xff", cert_pb2.CertChain().SerializeToString()]
)
def test_malformed_chain(server: Server, payload: bytes) -> None:
    with pytest.raises(HandshakeError):
        verify_cert_chain(payload, server.static.public, server.ca.root_public_key)
