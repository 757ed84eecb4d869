"""XEdDSA speed per installed backend: signatures and verifications per second.

    python bench/xeddsa.py [--seconds 1]

The message is a 33-byte public key, what signed prekeys and the ADV identity sign.
Compares with the previous run saved in bench/.results/xeddsa.json.
"""

from __future__ import annotations

import argparse
import os
import time

from results import compare

from wamd.crypto import generate_keypair
from wamd.xeddsa import available_backends


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.0)
    seconds = parser.parse_args().seconds
    key, message = generate_keypair(), b"\x05" + os.urandom(32)
    figures: dict[str, float] = {}
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
            figures[f"{backend.name}_{what}_per_s"] = round(count / (time.perf_counter() - start))
    for key, moved in compare("xeddsa", figures).items():
        backend, what = key.removesuffix("_per_s").rsplit("_", 1)
        per_second = figures[key]
        print(f"{backend:8} {what:6} {per_second:9,}/s  {1e6 / per_second:7.1f} µs each   {moved}")


if __name__ == "__main__":
    main()
