"""The sim's randomness, all drawn from one injectable ``random.Random``.

``SimServer(rng=random.Random(seed))`` makes a run reproducible: the same seed gives the
same account keys, LIDs, QR refs, stanza and message ids, group ids, prekeys and fault
decisions. Without ``rng`` the sim draws a seed from ``os.urandom`` and keeps it in
``SimServer.seed``, so a failing run can be replayed with ``random.Random(sim.seed)``.

What stays outside the seed: the Noise handshake's ephemeral keys and the Signal
ratchet's keys and padding (drawn inside ``wamd.noise`` / ``wamd.signal``, which take no
generator), the signatures' nonces, and real time. These change the bytes on the wire
but not what the sim decides.

These are keys of a test server on loopback, so a predictable generator is what is
wanted; never use them for anything else.
"""

from __future__ import annotations

import base64
import random

from wamd.crypto import KeyPair, SignedKeyPair
from wamd.messaging.core import MESSAGE_ID_PREFIX
from wamd.signal.repository import MAX_PREKEY_ID

__all__ = ["keypair", "message_id", "new_seed", "prekeys", "ref", "signed_keypair", "stanza_id"]


def new_seed() -> int:
    """A fresh seed from the system's generator."""
    return random.SystemRandom().getrandbits(64)


def keypair(rng: random.Random) -> KeyPair:
    """A Curve25519 pair, the private key clamped as X25519 and XEdDSA expect."""
    private = bytearray(rng.randbytes(32))
    private[0] &= 248
    private[31] = (private[31] & 127) | 64
    return KeyPair.from_private(bytes(private))


def signed_keypair(rng: random.Random, identity: KeyPair, key_id: int) -> SignedKeyPair:
    pair = keypair(rng)
    return SignedKeyPair(pair, identity.sign(pair.public_prefixed), key_id)


def prekeys(rng: random.Random, start_id: int, count: int) -> list[tuple[int, KeyPair]]:
    """``count`` one-time prekeys with ids from ``start_id`` (wrapping as Signal's do)."""
    return [((start_id - 1 + n) % MAX_PREKEY_ID + 1, keypair(rng)) for n in range(count)]


def message_id(rng: random.Random) -> str:
    """A message id in WhatsApp Web's current form (``3EB0`` + 18 hex digits)."""
    return MESSAGE_ID_PREFIX + rng.randbytes(9).hex().upper()


def stanza_id(rng: random.Random) -> str:
    """An id for a server stanza (notifications, server iqs): a decimal number."""
    return str(rng.getrandbits(32))


def ref(rng: random.Random, size: int) -> str:
    """A base64 reference of ``size`` random bytes (QR refs, pairing-code refs)."""
    return base64.b64encode(rng.randbytes(size)).decode()
