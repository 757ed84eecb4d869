"""The server's certificate chain: checking it (client) and issuing one (``wamd.sim``).

ServerHello's encrypted payload is a ``CertChain`` of two certificates, each
``details`` (a serialized ``Details``) plus an XEdDSA ``signature`` over ``details``:

- the *intermediate* is signed by the long-term root key, and its ``issuerSerial``
  is the root's serial (0 for WhatsApp's root);
- the *leaf* is signed by the intermediate's ``key``, its ``issuerSerial`` equals the
  intermediate's ``serial``, and its ``key`` must equal the static key the server just
  proved it holds in the handshake;
- both carry ``notBefore``/``notAfter`` (unix seconds) and must be valid now.

All of this follows whatsmeow ``handshake.go`` (``verifyServerCert``). Baileys checks
less: a client that skips the leaf-key binding accepts any server replaying a genuine
chain with its own static key, and one that skips validity accepts expired chains.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from google.protobuf.message import DecodeError as _ProtoDecodeError

from wamd.crypto import KeyPair, generate_keypair, verify
from wamd.errors import CertificateError
from wamd.proto import cert_pb2

__all__ = [
    "WHATSAPP_ROOT_PUBLIC_KEY",
    "WHATSAPP_ROOT_SERIAL",
    "CertificateAuthority",
    "verify_cert_chain",
]

# WhatsApp's pinned root public key (Curve25519) and its serial (whatsmeow handshake.go).
WHATSAPP_ROOT_PUBLIC_KEY = bytes.fromhex(
    "142375574d0a587166aae71ebe516437c4a28b73e3695c6ce1f7f9545da8ee6b"
)
WHATSAPP_ROOT_SERIAL = 0

_Details = cert_pb2.CertChain.NoiseCertificate.Details


def _parse_details(raw: bytes, which: str) -> cert_pb2.CertChain.NoiseCertificate.Details:
    details = _Details()
    try:
        details.ParseFromString(raw)
    except _ProtoDecodeError:
        raise CertificateError(f"server certificate: {which} details do not parse") from None
    return details


def _check_validity(
    details: cert_pb2.CertChain.NoiseCertificate.Details, which: str, now: float
) -> None:
    if details.HasField("notBefore") and now < details.notBefore:
        raise CertificateError(f"server certificate: {which} is not valid yet")
    if details.HasField("notAfter") and now > details.notAfter:
        raise CertificateError(f"server certificate: {which} has expired")


def verify_cert_chain(
    payload: bytes,
    server_static: bytes,
    trusted_root: bytes,
    *,
    root_serial: int = WHATSAPP_ROOT_SERIAL,
    now: float | None = None,
) -> None:
    """Raise ``CertificateError`` unless ``payload`` is a valid chain for ``server_static``."""
    chain = cert_pb2.CertChain()
    try:
        chain.ParseFromString(payload)
    except _ProtoDecodeError:
        raise CertificateError("server certificate: chain does not parse") from None
    inter, leaf = chain.intermediate, chain.leaf
    if not inter.details or not inter.signature or not leaf.details or not leaf.signature:
        raise CertificateError("server certificate: chain is missing parts")
    if len(inter.signature) != 64 or len(leaf.signature) != 64:
        raise CertificateError("server certificate: signature has the wrong length")
    moment = time.time() if now is None else now

    if not verify(trusted_root, inter.details, inter.signature):
        raise CertificateError("server certificate: intermediate not signed by the trusted root")
    inter_details = _parse_details(inter.details, "intermediate")
    if inter_details.issuerSerial != root_serial:
        raise CertificateError(
            f"server certificate: intermediate issuer serial {inter_details.issuerSerial}, "
            f"expected {root_serial}"
        )
    if len(inter_details.key) != 32:
        raise CertificateError("server certificate: intermediate key is not 32 bytes")
    _check_validity(inter_details, "intermediate", moment)

    if not verify(inter_details.key, leaf.details, leaf.signature):
        raise CertificateError("server certificate: leaf not signed by the intermediate")
    leaf_details = _parse_details(leaf.details, "leaf")
    if leaf_details.issuerSerial != inter_details.serial:
        raise CertificateError(
            f"server certificate: leaf issuer serial {leaf_details.issuerSerial}, "
            f"expected {inter_details.serial}"
        )
    if leaf_details.key != server_static:
        raise CertificateError(
            "server certificate: leaf key does not match the server's static key"
        )
    _check_validity(leaf_details, "leaf", moment)


@dataclass
class CertificateAuthority:
    """A root key that issues chains for server static keys, as ``wamd.sim`` needs.

    Clients trust ``root_public_key`` (and ``root_serial``) instead of WhatsApp's root.
    """

    root: KeyPair
    root_serial: int = 0
    intermediate_serial: int = 1
    leaf_serial: int = 2

    @classmethod
    def generate(cls) -> CertificateAuthority:
        return cls(generate_keypair())

    @property
    def root_public_key(self) -> bytes:
        return self.root.public

    def issue(
        self,
        server_static: bytes,
        *,
        not_before: int | None = None,
        not_after: int | None = None,
        intermediate: KeyPair | None = None,
    ) -> bytes:
        """A serialized CertChain vouching for ``server_static``.

        Validity defaults to one day either side of now (both certificates).
        """
        now = int(time.time())
        start = now - 86400 if not_before is None else not_before
        end = now + 86400 if not_after is None else not_after
        inter_key = intermediate or generate_keypair()
        inter_details = _Details(
            serial=self.intermediate_serial,
            issuerSerial=self.root_serial,
            key=inter_key.public,
            notBefore=start,
            notAfter=end,
        ).SerializeToString()
        leaf_details = _Details(
            serial=self.leaf_serial,
            issuerSerial=self.intermediate_serial,
            key=server_static,
            notBefore=start,
            notAfter=end,
        ).SerializeToString()
        chain = cert_pb2.CertChain(
            intermediate=cert_pb2.CertChain.NoiseCertificate(
                details=inter_details, signature=self.root.sign(inter_details)
            ),
            leaf=cert_pb2.CertChain.NoiseCertificate(
                details=leaf_details, signature=inter_key.sign(leaf_details)
            ),
        )
        return chain.SerializeToString()
