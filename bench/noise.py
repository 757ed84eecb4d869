"""Noise transport throughput: frames/s and MB/s for encrypt and decrypt.

    python bench/noise.py [--seconds 1]

Sizes: 200 bytes (a typical stanza) and 64 KiB (media-sized). Compares with the previous
run saved in bench/.results/noise.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from wamd.noise import TransportCipher

RESULTS = Path(__file__).resolve().parent / ".results" / "noise.json"


def rate(seconds: float, size: int) -> tuple[float, float]:
    key_a, key_b = os.urandom(32), os.urandom(32)
    sender, receiver = TransportCipher(key_a, key_b), TransportCipher(key_b, key_a)
    payload = os.urandom(size)
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            sender.encrypt(payload)
        count += 100
    enc = count / (time.perf_counter() - start)
    # decrypt needs the frames in counter order: make a bounded batch (<= 64 MiB) first
    batch_size = max(100, min(count, (64 << 20) // size))
    sender, receiver = TransportCipher(key_a, key_b), TransportCipher(key_b, key_a)
    frames = [sender.encrypt(payload) for _ in range(batch_size)]
    start = time.perf_counter()
    for frame in frames:
        receiver.decrypt(frame)
    dec = len(frames) / (time.perf_counter() - start)
    return enc, dec


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    result: dict[str, float] = {}
    for size in (200, 64 * 1024):
        enc, dec = rate(args.seconds, size)
        result[f"encrypt_{size}_frames_per_s"] = round(enc)
        result[f"decrypt_{size}_frames_per_s"] = round(dec)
        result[f"encrypt_{size}_mb_per_s"] = round(enc * size / 1e6, 1)
        result[f"decrypt_{size}_mb_per_s"] = round(dec * size / 1e6, 1)
    for key, value in result.items():
        line = f"{key:32} {value:>14,}"
        if previous.get(key):
            line += f"   (previous {previous[key]:,}, {100 * (value / previous[key] - 1):+.1f}%)"
        print(line)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
