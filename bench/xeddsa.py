"""XEdDSA speed per installed backend: signatures and verifications per second.

    python bench/xeddsa.py [--seconds 1]

The message is a 33-byte public key, what signed prekeys and the ADV identity sign.
"""

from __future__ import annotations

import argparse
import os
import time

from wamd.crypto import generate_keypair
from wamd.xeddsa import available_backends


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.0)
    seconds = parser.parse_args().seconds
    key, message = generate_keypair(), b"\x05" + os.urandom(32)
    for backend in available_backends():
        signature = backend.sign(key.private, message, os.urandom(64))
        for what, call in (
            ("sign", lambda b=backend: b.sign(key.private, message, os.urandom(64))),
            ("verify", lambda b=backend, s=signature: b.verify(key.public, message, s)),
        ):
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds:
                for _ in range(50):
                    call()
                count += 50
            per_second = count / (time.perf_counter() - start)
            print(f"{backend.name:8} {what:6} {per_second:9.0f}/s  {1e6 / per_second:7.1f} µs each")


if __name__ == "__main__":
    main()
