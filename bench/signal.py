"""Signal layer throughput on this machine.

    python bench/signal.py [--seconds 1.5]

Prints, for the pure core (records in memory) and through SignalRepository over the
memory store (serialising the record per message as persistence needs):
- session setups/s: initiator side, bundle with a one-time prekey, signature verified;
- one-direction encrypt/s and decrypt/s on an established session;
- ping-pong msgs/s where every message carries a DH ratchet step.
Targets (2 cores): setups >= 1,000/s, encrypt and decrypt >= 20,000/s each,
ping-pong >= 3,000 msgs/s. Compares with bench/.results/signal.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file's name shadows the standard library's ``signal`` (which asyncio imports):
# take bench/ off the import path before anything imports it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

from wamd.crypto import SignedKeyPair, generate_keypair  # noqa: E402
from wamd.signal import (  # noqa: E402
    PreKeyBundle,
    SessionRecord,
    SignalRepository,
    decrypt_message,
    decrypt_prekey_message,
    encrypt,
    initiate_session,
)
from wamd.store import MemoryKeyStore  # noqa: E402

RESULTS = Path(__file__).resolve().parent / ".results" / "signal.json"


def timed(seconds: float, step: Callable[[], int]) -> float:
    """Operations per second of ``step`` (which returns how many it did; 0 ends early)."""
    count = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        done = step()
        if not done:
            elapsed = time.perf_counter() - start
            break
        count += done
    return count / elapsed


def established() -> tuple[SessionRecord, SessionRecord]:
    a_id, b_id = generate_keypair(), generate_keypair()
    spk, otk = SignedKeyPair.generate(b_id, 1), generate_keypair()
    bundle = PreKeyBundle(1, 1, b_id.public, 1, spk.key_pair.public, spk.signature, 2, otk.public)
    alice, bob = SessionRecord(), SessionRecord()
    initiate_session(alice, a_id, 2, bundle)
    decrypt_prekey_message(bob, b_id, 1, encrypt(alice, b"x")[1], spk.key_pair, otk)
    decrypt_message(alice, encrypt(bob, b"y")[1])
    return alice, bob


def core(seconds: float) -> dict[str, float]:
    b_id = generate_keypair()
    spk, otk = SignedKeyPair.generate(b_id, 1), generate_keypair()
    bundle = PreKeyBundle(1, 1, b_id.public, 1, spk.key_pair.public, spk.signature, 2, otk.public)
    a_id = generate_keypair()

    def setup() -> int:
        for _ in range(20):
            initiate_session(SessionRecord(), a_id, 2, bundle)
        return 20

    alice, _ = established()
    payload = b"x" * 120

    def enc() -> int:
        for _ in range(200):
            encrypt(alice, payload)
        return 200

    alice2, bob2 = established()
    batch = [encrypt(alice2, payload)[1] for _ in range(60_000)]
    it = iter(batch)

    def dec() -> int:  # until the prepared messages run out
        done = 0
        for data in itertools.islice(it, 200):
            decrypt_message(bob2, data)
            done += 1
        return done

    alice3, bob3 = established()

    def pingpong() -> int:
        for _ in range(50):
            decrypt_message(bob3, encrypt(alice3, payload)[1])
            decrypt_message(alice3, encrypt(bob3, payload)[1])
        return 100

    return {
        "core_setups_per_s": timed(seconds, setup),
        "core_encrypt_per_s": timed(seconds, enc),
        "core_decrypt_per_s": timed(min(seconds, 2.0), dec),
        "core_pingpong_per_s": timed(seconds, pingpong),
    }


async def repository(seconds: float) -> dict[str, float]:
    def device() -> SignalRepository:
        identity = generate_keypair()
        return SignalRepository(MemoryKeyStore(), identity, 1, SignedKeyPair.generate(identity, 1))

    alice, bob = device(), device()
    [(key_id, key)] = await bob.new_prekeys(1, 1)
    bundle = PreKeyBundle(
        1,
        0,
        bob.identity.public,
        1,
        bob.signed_prekey.key_pair.public,
        bob.signed_prekey.signature,
        key_id,
        key.public,
    )
    a, b = "1@s.whatsapp.net", "2@s.whatsapp.net"
    await alice.inject_bundle(b, bundle)
    await bob.decrypt(a, *(await alice.encrypt(b, b"x")))
    await alice.decrypt(b, *(await bob.encrypt(a, b"y")))
    payload = b"x" * 120
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(50):
            await bob.decrypt(a, *(await alice.encrypt(b, payload)))
            await alice.decrypt(b, *(await bob.encrypt(a, payload)))
        count += 100
    return {"repository_pingpong_per_s": count / (time.perf_counter() - start)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.5)
    args = parser.parse_args()
    results = core(args.seconds)
    results.update(asyncio.run(repository(args.seconds)))
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for key, value in results.items():
        line = f"{key:28} {value:>12,.0f}"
        if previous.get(key):
            line += f"   (previous {previous[key]:,.0f}, {100 * (value / previous[key] - 1):+.1f}%)"
        print(line)
    print("targets: setups >= 1,000/s, encrypt/decrypt >= 20,000/s, ping-pong >= 3,000/s")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({k: round(v) for k, v in results.items()}, indent=2))


if __name__ == "__main__":
    main()
