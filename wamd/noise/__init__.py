"""WhatsApp's Noise transport, sans-IO: handshake (both roles), frames, certificates,
client payloads."""

from wamd.noise.cert import (
    WHATSAPP_ROOT_PUBLIC_KEY,
    WHATSAPP_ROOT_SERIAL,
    CertificateAuthority,
    verify_cert_chain,
)
from wamd.noise.frames import MAX_FRAME_SIZE, FrameDecoder, FrameEncoder
from wamd.noise.handshake import (
    ClientHandshake,
    ServerHandshake,
    SymmetricState,
    TransportCipher,
    connection_header,
)

__all__ = [
    "MAX_FRAME_SIZE",
    "WHATSAPP_ROOT_PUBLIC_KEY",
    "WHATSAPP_ROOT_SERIAL",
    "CertificateAuthority",
    "ClientHandshake",
    "FrameDecoder",
    "FrameEncoder",
    "ServerHandshake",
    "SymmetricState",
    "TransportCipher",
    "connection_header",
    "verify_cert_chain",
]
