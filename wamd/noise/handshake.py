"""WhatsApp's Noise handshake (``Noise_XX_25519_AESGCM_SHA256``), both roles, sans-IO.

The sequence, as whatsmeow (``handshake.go``, ``socket/noisehandshake.go``) and Baileys
(``noise-handler.ts``) run it::

    h = ck = "Noise_XX_25519_AESGCM_SHA256\\0\\0\\0\\0"   (32 bytes, used as is)
    h = SHA256(h || header)                               header = "WA" 6 <dict version>
    -> ClientHello{ephemeral: e}          h = SHA256(h || e)
                                          (textbook XX would now hash the empty payload:
                                           WhatsApp does not; neither does wamd)
    <- ServerHello{ephemeral: re,         h = SHA256(h || re); MixKey(DH(e, re))
                   static: Enc(rs),       rs = DecryptAndHash(...); MixKey(DH(e, rs))
                   payload: Enc(certs)}   certs = DecryptAndHash(...); verify the chain
    -> ClientFinish{static: Enc(s),       EncryptAndHash(s); MixKey(DH(s, re))
                    payload: Enc(client payload)}   EncryptAndHash(payload)
    split: HKDF(salt=ck, ikm="") -> 64 bytes: initiator sends with the first 32,
           receives with the second.

MixKey(ikm): ``ck, k = HKDF-SHA256(salt=ck, ikm) split in two``; the nonce counter resets
to 0. AEAD is AES-256-GCM with the 12-byte nonce ``00*8 || counter (4 bytes BE)`` and the
handshake hash as associated data; transport frames use no associated data and one
counter per direction from 0.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError as _ProtoDecodeError

from wamd.crypto import KeyPair, agree, generate_keypair, hkdf
from wamd.errors import HandshakeError, InvalidKey, ProtocolError
from wamd.noise.cert import verify_cert_chain
from wamd.proto import wa6_pb2

__all__ = [
    "NOISE_PROTOCOL_NAME",
    "ClientHandshake",
    "ServerHandshake",
    "SymmetricState",
    "TransportCipher",
    "connection_header",
]

NOISE_PROTOCOL_NAME = b"Noise_XX_25519_AESGCM_SHA256\x00\x00\x00\x00"  # 32 bytes: the initial hash
WA_MAGIC = 6  # third byte of the connection header
_MAX_COUNTER = 0xFFFFFFFF  # the nonce holds a 32-bit counter


def connection_header(dict_version: int = 3) -> bytes:
    """The 4 bytes a client sends once before its first frame: ``W A 6 <dict version>``."""
    return bytes((ord("W"), ord("A"), WA_MAGIC, dict_version))


def _nonce(counter: int) -> bytes:
    return b"\x00" * 8 + counter.to_bytes(4, "big")


class SymmetricState:
    """Hash, chaining key and cipher of a handshake in progress."""

    __slots__ = ("_aead", "_counter", "ck", "h")

    def __init__(self, header: bytes) -> None:
        self.h = NOISE_PROTOCOL_NAME
        self.ck = NOISE_PROTOCOL_NAME
        self._aead: AESGCM | None = None
        self._counter = 0
        self.mix_hash(header)

    def mix_hash(self, data: bytes) -> None:
        self.h = hashlib.sha256(self.h + data).digest()

    def mix_key(self, input_key_material: bytes) -> None:
        out = hkdf(input_key_material, 64, salt=self.ck)
        self.ck = out[:32]
        self._aead = AESGCM(out[32:])
        self._counter = 0

    def mix_dh(self, private: bytes, public: bytes) -> None:
        try:
            self.mix_key(agree(private, public))
        except InvalidKey as exc:
            raise HandshakeError("handshake: peer sent an invalid public key") from exc

    def encrypt_and_hash(self, plaintext: bytes) -> bytes:
        if self._aead is None:
            raise HandshakeError("handshake: encrypt before any key was mixed")
        ciphertext = self._aead.encrypt(_nonce(self._counter), plaintext, self.h)
        self._counter += 1
        self.mix_hash(ciphertext)
        return ciphertext

    def decrypt_and_hash(self, ciphertext: bytes, what: str) -> bytes:
        if self._aead is None:
            raise HandshakeError("handshake: decrypt before any key was mixed")
        try:
            plaintext = self._aead.decrypt(_nonce(self._counter), ciphertext, self.h)
        except InvalidTag:
            raise HandshakeError(f"handshake: {what} failed authentication") from None
        self._counter += 1
        self.mix_hash(ciphertext)
        return plaintext

    def split(self) -> tuple[bytes, bytes]:
        """(initiator's send key, initiator's receive key)."""
        out = hkdf(b"", 64, salt=self.ck)
        return out[:32], out[32:]


class TransportCipher:
    """Encrypts outgoing and decrypts incoming frames after the handshake."""

    __slots__ = ("_recv", "_recv_counter", "_send", "_send_counter")

    def __init__(self, send_key: bytes, recv_key: bytes) -> None:
        self._send = AESGCM(send_key)
        self._recv = AESGCM(recv_key)
        self._send_counter = 0
        self._recv_counter = 0

    def encrypt(self, plaintext: bytes) -> bytes:
        counter = self._send_counter
        if counter > _MAX_COUNTER:
            raise ProtocolError("noise: send counter exhausted; reconnect")
        self._send_counter = counter + 1
        return self._send.encrypt(b"\x00" * 8 + counter.to_bytes(4, "big"), plaintext, None)

    def decrypt(self, ciphertext: bytes) -> bytes:
        counter = self._recv_counter
        if counter > _MAX_COUNTER:
            raise ProtocolError("noise: receive counter exhausted; reconnect")
        try:
            plaintext = self._recv.decrypt(
                b"\x00" * 8 + counter.to_bytes(4, "big"), ciphertext, None
            )
        except InvalidTag:
            raise ProtocolError(f"noise: frame {counter} failed authentication") from None
        self._recv_counter = counter + 1
        return plaintext


def _parse_handshake(data: bytes, what: str) -> wa6_pb2.HandshakeMessage:
    message = wa6_pb2.HandshakeMessage()
    try:
        message.ParseFromString(data)
    except _ProtoDecodeError:
        raise HandshakeError(f"handshake: {what} is not a valid HandshakeMessage") from None
    return message


class ClientHandshake:
    """The initiator (a WhatsApp client).

    ``hello()`` -> send; ``read_server_hello(frame)`` checks the server's certificate
    chain against ``trusted_root``; ``finish(payload)`` -> send; ``transport()``.
    """

    def __init__(
        self,
        noise_key: KeyPair,
        trusted_root: bytes,
        *,
        root_serial: int = 0,
        dict_version: int = 3,
        clock: Callable[[], float] | None = None,
        ephemeral: KeyPair | None = None,
    ) -> None:
        self.noise_key = noise_key
        self.trusted_root = trusted_root
        self.root_serial = root_serial
        self.header = connection_header(dict_version)
        self.clock = clock
        self.ephemeral = ephemeral or generate_keypair()
        self.state = SymmetricState(self.header)
        self.server_static: bytes | None = None
        self._server_ephemeral: bytes | None = None
        self._finished = False

    def hello(self) -> bytes:
        self.state.mix_hash(self.ephemeral.public)
        message = wa6_pb2.HandshakeMessage(
            clientHello=wa6_pb2.HandshakeMessage.ClientHello(ephemeral=self.ephemeral.public)
        )
        return message.SerializeToString()

    def read_server_hello(self, frame: bytes) -> None:
        hello = _parse_handshake(frame, "server hello").serverHello
        if len(hello.ephemeral) != 32 or not hello.static or not hello.payload:
            raise HandshakeError("handshake: server hello is missing parts")
        state = self.state
        state.mix_hash(hello.ephemeral)
        state.mix_dh(self.ephemeral.private, hello.ephemeral)
        static = state.decrypt_and_hash(hello.static, "server static key")
        if len(static) != 32:
            raise HandshakeError(f"handshake: server static key has {len(static)} bytes, not 32")
        state.mix_dh(self.ephemeral.private, static)
        certificate = state.decrypt_and_hash(hello.payload, "server certificate")
        verify_cert_chain(
            certificate,
            static,
            self.trusted_root,
            root_serial=self.root_serial,
            now=self.clock() if self.clock else None,
        )
        self.server_static = static
        self._server_ephemeral = hello.ephemeral

    def finish(self, client_payload: bytes) -> bytes:
        if self._server_ephemeral is None:
            raise HandshakeError("handshake: finish before the server hello was read")
        state = self.state
        encrypted_static = state.encrypt_and_hash(self.noise_key.public)
        state.mix_dh(self.noise_key.private, self._server_ephemeral)
        encrypted_payload = state.encrypt_and_hash(client_payload)
        self._finished = True
        message = wa6_pb2.HandshakeMessage(
            clientFinish=wa6_pb2.HandshakeMessage.ClientFinish(
                static=encrypted_static, payload=encrypted_payload
            )
        )
        return message.SerializeToString()

    def transport(self) -> TransportCipher:
        if not self._finished:
            raise HandshakeError("handshake: not finished")
        send, recv = self.state.split()
        return TransportCipher(send, recv)


class ServerHandshake:
    """The responder (WhatsApp's server; used by ``wamd.sim``).

    ``read_client_hello(frame)`` -> ServerHello bytes to send (carrying ``certificate``,
    the serialized CertChain for ``static``); ``read_client_finish(frame)`` returns the
    client payload bytes and sets ``client_static``; then ``transport()``.
    """

    def __init__(
        self,
        static: KeyPair,
        certificate: bytes,
        *,
        dict_version: int = 3,
        ephemeral: KeyPair | None = None,
    ) -> None:
        self.static = static
        self.certificate = certificate
        self.state = SymmetricState(connection_header(dict_version))
        self.ephemeral = ephemeral or generate_keypair()
        self.client_static: bytes | None = None
        self._client_ephemeral: bytes | None = None
        self._finished = False

    def read_client_hello(self, frame: bytes) -> bytes:
        hello = _parse_handshake(frame, "client hello").clientHello
        if len(hello.ephemeral) != 32:
            raise HandshakeError("handshake: client hello has no 32-byte ephemeral key")
        state = self.state
        state.mix_hash(hello.ephemeral)
        self._client_ephemeral = hello.ephemeral
        state.mix_hash(self.ephemeral.public)
        state.mix_dh(self.ephemeral.private, hello.ephemeral)
        encrypted_static = state.encrypt_and_hash(self.static.public)
        state.mix_dh(self.static.private, hello.ephemeral)
        encrypted_certificate = state.encrypt_and_hash(self.certificate)
        message = wa6_pb2.HandshakeMessage(
            serverHello=wa6_pb2.HandshakeMessage.ServerHello(
                ephemeral=self.ephemeral.public,
                static=encrypted_static,
                payload=encrypted_certificate,
            )
        )
        return message.SerializeToString()

    def read_client_finish(self, frame: bytes) -> bytes:
        if self._client_ephemeral is None:
            raise HandshakeError("handshake: client finish before client hello")
        finish = _parse_handshake(frame, "client finish").clientFinish
        if not finish.static or not finish.payload:
            raise HandshakeError("handshake: client finish is missing parts")
        state = self.state
        client_static = state.decrypt_and_hash(finish.static, "client static key")
        if len(client_static) != 32:
            raise HandshakeError("handshake: client static key is not 32 bytes")
        state.mix_dh(self.ephemeral.private, client_static)
        payload = state.decrypt_and_hash(finish.payload, "client payload")
        self.client_static = client_static
        self._finished = True
        return payload

    def transport(self) -> TransportCipher:
        if not self._finished:
            raise HandshakeError("handshake: not finished")
        initiator_send, initiator_recv = self.state.split()
        return TransportCipher(initiator_recv, initiator_send)
