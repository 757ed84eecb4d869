"""Throughput of the binary node codec on a corpus of realistic stanzas.

    python bench/binary.py [--seconds 2]

Counts top-level stanzas per second (and MB/s of encoded bytes) for encode and decode,
and compares with the previous run saved in bench/.results/binary.json.
Targets on the project's 2-core machine: encode >= 60,000/s, decode >= 90,000/s.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from wamd.binary import Node, decode_node, encode_node

RESULTS = Path(__file__).resolve().parent / ".results" / "binary.json"


def corpus() -> list[Node]:
    rnd = os.urandom
    message = Node(
        "message",
        {"id": "3EB0A1B2C3D4E5F60718", "type": "text", "to": "15551234567@s.whatsapp.net"},
        [
            Node(
                "participants",
                {},
                [
                    Node(
                        "to",
                        {"jid": f"15551234567:{device}@s.whatsapp.net"},
                        [Node("enc", {"v": "2", "type": "msg"}, rnd(200))],
                    )
                    for device in (1, 2, 3)
                ],
            ),
            Node("device-identity", {}, rnd(160)),
        ],
    )
    receipt = Node(
        "receipt",
        {
            "id": "3EB0A1B2C3D4E5F60718",
            "to": "15551234567@s.whatsapp.net",
            "type": "read",
            "t": "1732500000",
        },
    )
    key_fetch = Node(
        "iq",
        {"id": "41235.12345-7", "xmlns": "encrypt", "type": "get", "to": "s.whatsapp.net"},
        [
            Node(
                "key",
                {},
                [
                    Node("user", {"jid": f"1555{n:07d}:{d}@s.whatsapp.net", "reason": "identity"})
                    for n, d in ((1234567, 0), (1234567, 5), (7654321, 0))
                ],
            )
        ],
    )
    return [message, receipt, key_fetch]


def measure(fn: object, items: list[object], seconds: float) -> float:
    call = fn  # type: ignore[assignment]
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for item in items:
            call(item)  # type: ignore[operator]
        count += len(items)
        if time.perf_counter() >= deadline:
            break
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    nodes = corpus()
    encoded = [encode_node(n) for n in nodes]
    avg_size = sum(map(len, encoded)) / len(encoded)
    enc_rate = measure(encode_node, nodes, args.seconds)  # type: ignore[arg-type]
    dec_rate = measure(decode_node, encoded, args.seconds)  # type: ignore[arg-type]
    result = {
        "encode_stanzas_per_s": round(enc_rate),
        "decode_stanzas_per_s": round(dec_rate),
        "encode_mb_per_s": round(enc_rate * avg_size / 1e6, 2),
        "decode_mb_per_s": round(dec_rate * avg_size / 1e6, 2),
        "avg_stanza_bytes": round(avg_size),
    }
    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else None
    for key, value in result.items():
        line = f"{key:24} {value:>12,}"
        if previous and key in previous and previous[key]:
            line += f"   (previous {previous[key]:,}, {100 * (value / previous[key] - 1):+.1f}%)"
        print(line)
    print("targets: encode >= 60,000 stanzas/s, decode >= 90,000 stanzas/s")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
