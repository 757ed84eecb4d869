"""Same-process A/B of two versions of wamd on the Signal workloads of bench/vs_baileys.py.

    python bench/signal_ab.py [--ref main] [--rounds 12] [--stream 2000] [--rounds-pp 300]

Loads the whole ``wamd`` package as it is at git ``--ref`` (A, unpacked with ``git
archive`` into a temporary directory) and as it is in the work tree (B), each imported
afresh under the name ``wamd`` (the module table is emptied between the two imports; the
objects each made keep their own modules). Then it alternates them, the order swapped
every round: a stream (one device encrypts ``--stream`` messages of 120 bytes, the other
decrypts them, through a ``MemoryKeyStore``), ping-pong (``--rounds-pp`` exchanges, a DH
ratchet step per message) and a memory-store transaction with one read and one write.
Prints each side's median CPU microseconds per operation and the median of the rounds'
B ÷ A ratios: a change is believed when this ratio says so, since a ratio against
Baileys moves by 10-30 % between runs on this machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/signal.py shadows the standard library's ``signal``: take bench/ off the path
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from io import BytesIO  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

ROOT = _HERE.parent
ALICE, BOB = "15550000001@s.whatsapp.net", "15550000002@s.whatsapp.net"
PAYLOAD = b"x" * 120

Workload = Callable[[], Awaitable[dict[str, float]]]


def import_wamd(root: Path) -> dict[str, ModuleType]:
    """``wamd.signal``, ``wamd.store`` and ``wamd.crypto`` imported from ``root``."""
    for name in [m for m in sys.modules if m == "wamd" or m.startswith("wamd.")]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        import wamd.crypto
        import wamd.signal
        import wamd.store

        if not Path(wamd.__file__ or "").is_relative_to(root):
            raise SystemExit(f"imported wamd from {wamd.__file__}, not from {root}")
        return {"signal": wamd.signal, "store": wamd.store, "crypto": wamd.crypto}
    finally:
        sys.path.remove(str(root))


def workloads(mods: dict[str, ModuleType], stream: int, rounds: int) -> dict[str, Workload]:
    sig, store, crypto = mods["signal"], mods["store"], mods["crypto"]

    def device() -> Any:
        identity = crypto.generate_keypair()
        signed = crypto.SignedKeyPair.generate(identity, 1)
        return sig.SignalRepository(store.MemoryKeyStore(), identity, 1, signed)

    async def established() -> tuple[Any, Any]:
        alice, bob = device(), device()
        [(key_id, key)] = await bob.new_prekeys(1, 1)
        s = bob.signed_prekey
        bundle = sig.PreKeyBundle(
            bob.registration_id,
            0,
            bob.identity.public,
            s.key_id,
            s.key_pair.public,
            s.signature,
            key_id,
            key.public,
        )
        await alice.inject_bundle(BOB, bundle)
        await bob.decrypt(ALICE, *(await alice.encrypt(BOB, PAYLOAD)))
        await alice.decrypt(BOB, *(await bob.encrypt(ALICE, PAYLOAD)))
        return alice, bob

    async def run_stream() -> dict[str, float]:
        alice, bob = await established()
        start = time.process_time()
        sent = [await alice.encrypt(BOB, PAYLOAD) for _ in range(stream)]
        encrypt = time.process_time() - start
        start = time.process_time()
        for kind, data in sent:
            await bob.decrypt(ALICE, kind, data)
        decrypt = time.process_time() - start
        return {"stream_encrypt": encrypt / stream * 1e6, "stream_decrypt": decrypt / stream * 1e6}

    async def run_pingpong() -> dict[str, float]:
        alice, bob = await established()
        start = time.process_time()
        for _ in range(rounds):
            await bob.decrypt(ALICE, *(await alice.encrypt(BOB, PAYLOAD)))
            await alice.decrypt(BOB, *(await bob.encrypt(ALICE, PAYLOAD)))
        return {"pingpong": (time.process_time() - start) / (2 * rounds) * 1e6}

    async def run_transaction() -> dict[str, float]:
        keys = store.MemoryKeyStore()
        await keys.set({"session": {"a.0": b"s" * 600}})
        count = 10 * stream
        start = time.process_time()
        for _ in range(count):
            async with keys.transaction():
                await keys.get("session", ["a.0"])
                await keys.set({"session": {"a.0": b"t" * 600}})
        return {"transaction": (time.process_time() - start) / count * 1e6}

    return {"stream": run_stream, "pingpong": run_pingpong, "transaction": run_transaction}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", default="main", help="git revision of A (B: the work tree)")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--stream", type=int, default=2000)
    parser.add_argument("--rounds-pp", type=int, default=300)
    args = parser.parse_args()

    archive = subprocess.run(
        ["git", "archive", args.ref, "wamd"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tempfile.TemporaryDirectory(prefix="wamd-signal-ab-") as tmp:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        a = workloads(import_wamd(Path(tmp)), args.stream, args.rounds_pp)
        b = workloads(import_wamd(ROOT), args.stream, args.rounds_pp)
        figures: dict[str, tuple[list[float], list[float], list[float]]] = {}
        for n in range(args.rounds):
            for name in a:
                order = [(a, 0), (b, 1)] if n % 2 == 0 else [(b, 1), (a, 0)]
                got: dict[int, dict[str, float]] = {}
                for side, index in order:
                    got[index] = asyncio.run(side[name]())
                for figure, old in got[0].items():
                    new = got[1][figure]
                    olds, news, ratios = figures.setdefault(figure, ([], [], []))
                    olds.append(old)
                    news.append(new)
                    ratios.append(new / old)
    print(f"A: {args.ref}, B: the work tree; {args.rounds} rounds, CPU us per operation")
    print(f"{'figure':16s} {'A':>9s} {'B':>9s}  B/A (median of the rounds' ratios)")
    for figure, (olds, news, ratios) in figures.items():
        print(
            f"{figure:16s} {statistics.median(olds):9.2f} {statistics.median(news):9.2f}"
            f"  {statistics.median(ratios):.3f}"
        )


if __name__ == "__main__":
    main()
