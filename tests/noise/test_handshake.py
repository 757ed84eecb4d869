from __future__ import annotations

import pytest

from wamd.crypto import generate_keypair
from wamd.errors import HandshakeError, ProtocolError
from wamd.noise import ClientHandshake, ServerHandshake, connection_header
from wamd.proto import wa6_pb2

from .conftest import Server


def run(server: Server, version: int = 3) -> tuple[ClientHandshake, ServerHandshake, bytes]:
    client = ClientHandshake(generate_keypair(), server.ca.root_public_key, dict_version=version)
    responder = ServerHandshake(server.static, server.chain, dict_version=version)
    client.read_server_hello(responder.read_client_hello(client.hello()))
    payload = b"client payload bytes"
    assert responder.read_client_finish(client.finish(payload)) == payload
    return client, responder, payload


@pytest.mark.parametrize("version", [2, 3])
def test_both_roles_agree(server: Server, version: int) -> None:
    client, responder, _ = run(server, version)
    assert client.state.h == responder.state.h and client.state.ck == responder.state.ck
    assert responder.client_static == client.noise_key.public
    assert client.server_static == server.static.public
    c, s = client.transport(), responder.transport()
    for n in range(5):
        assert s.decrypt(c.encrypt(b"up %d" % n)) == b"up %d" % n
        assert c.decrypt(s.encrypt(b"down %d" % n)) == b"down %d" % n


def test_header_is_wa_6_version() -> None:
    assert connection_header(3) == b"WA\x06\x03" and connection_header(2) == b"WA\x06\x02"


def test_dictionary_version_is_bound_into_the_transcript(server: Server) -> None:
    client = ClientHandshake(generate_keypair(), server.ca.root_public_key, dict_version=3)
    responder = ServerHandshake(server.static, server.chain, dict_version=2)
    with pytest.raises(HandshakeError, match="server static key failed authentication"):
        client.read_server_hello(responder.read_client_hello(client.hello()))


def test_tampered_server_hello_is_refused(server: Server) -> None:
    client = ClientHandshake(generate_keypair(), server.ca.root_public_key)
    responder = ServerHandshake(server.static, server.chain)
    hello = wa6_pb2.HandshakeMessage.FromString(responder.read_client_hello(client.hello()))
    tampered = bytearray(hello.serverHello.payload)
    tampered[5] ^= 1
    hello.serverHello.payload = bytes(tampered)
    with pytest.raises(HandshakeError, match="server certificate failed authentication"):
        client.read_server_hello(hello.SerializeToString())


def test_tampered_client_finish_is_refused(server: Server) -> None:
    client = ClientHandshake(generate_keypair(), server.ca.root_public_key)
    responder = ServerHandshake(server.static, server.chain)
    client.read_server_hello(responder.read_client_hello(client.hello()))
    finish = wa6_pb2.HandshakeMessage.FromString(client.finish(b"payload"))
    finish.clientFinish.payload = finish.clientFinish.payload[:-1] + b"\x00"
    with pytest.raises(HandshakeError, match="client payload failed authentication"):
        responder.read_client_finish(finish.SerializeToString())


def test_tampered_transport_frame(server: Server) -> None:
    client, responder, _ = run(server)
    c, s = client.transport(), responder.transport()
    frame = bytearray(c.encrypt(b"hello"))
    frame[0] ^= 0x80
    with pytest.raises(ProtocolError, match="failed authentication"):
        s.decrypt(bytes(frame))


def test_replayed_transport_frame_fails(server: Server) -> None:
    client, responder, _ = run(server)
    c, s = client.transport(), responder.transport()
    frame = c.encrypt(b"once")
    assert s.decrypt(frame) == b"once"
    with pytest.raises(ProtocolError):
        s.decrypt(frame)


@pytest.mark.parametrize(
    "frame",
    [b"", b"\xff\xff", wa6_pb2.HandshakeMessage().SerializeToString()],
)
def test_malformed_hellos(server: Server, frame: bytes) -> None:
    client = ClientHandshake(generate_keypair(), server.ca.root_public_key)
    client.hello()
    with pytest.raises(HandshakeError):
        client.read_server_hello(frame)
    responder = ServerHandshake(server.static, server.chain)
    with pytest.raises(HandshakeError):
        responder.read_client_hello(frame)


def test_steps_out_of_order(server: Server) -> None:
    client = ClientHandshake(generate_keypair(), server.ca.root_public_key)
    with pytest.raises(HandshakeError):
        client.finish(b"x")
    with pytest.raises(HandshakeError):
        client.transport()
    responder = ServerHandshake(server.static, server.chain)
    with pytest.raises(HandshakeError):
        responder.read_client_finish(b"")
