from __future__ import annotations

from dataclasses import dataclass

import pytest

from wamd.crypto import KeyPair, generate_keypair
from wamd.noise import CertificateAuthority


@dataclass
class Server:
    ca: CertificateAuthority
    static: KeyPair
    chain: bytes


@pytest.fixture
def server() -> Server:
    ca = CertificateAuthority.generate()
    static = generate_keypair()
    return Server(ca, static, ca.issue(static.public))
