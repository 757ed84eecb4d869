"""wamd against Baileys on the same work, in the same run: codec and Signal figures.

    python bench/vs_baileys.py [--pairs 5] [--only binary_decode,pingpong] [--scale 1.0]

Each workload runs in wamd (this process) and in Baileys (``bench/vs_baileys.js`` in one
long-lived node process, so V8 stays warm), taking turns: several pairs, the order
swapped every pair. Rates are per CPU-second (``time.process_time`` here,
``process.cpuUsage`` in node), so a busy machine does not skew them. Prints each side's
median, the ratio wamd ÷ Baileys, and the change since the previous run
(kept in ``bench/.results/vs_baileys.json``, which git ignores). The ratio is the median of
the pairs' own ratios (both halves of a pair ran back to back, under the same load).

Workloads:

- ``binary_encode`` / ``binary_decode``: a corpus of realistic stanzas (incoming and
  outgoing messages with several ``enc`` children and a device identity, receipts with
  item lists, acks, prekey-bundle iqs, notifications), every id unique; wamd's string
  caches are emptied before every pass ("cold caches"). Baileys' encoder must produce
  wamd's bytes for every stanza (checked once; a difference is reported);
- ``setups``: session setups from bundles with a fresh one-time prekey each, through the
  in-memory store (initiator side, signature checked);
- ``pingpong``: two devices alternating, so every message carries a DH ratchet step;
- ``stream_encrypt`` / ``stream_decrypt``: one device sends a run of messages, the other
  decrypts them, through the store.

Baileys is installed from npm as the interop tests do (``tests/interop/conftest.py``);
without node or the registry the script says why and exits 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/signal.py shadows the standard library's ``signal``: take bench/ off the path,
# and put the repository on it for ``tests.interop`` (the Baileys install helper).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import base64  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

from wamd.binary import CODEC, Node, clear_caches, decode_node, encode_node  # noqa: E402
from wamd.crypto import SignedKeyPair, generate_keypair  # noqa: E402
from wamd.signal import PreKeyBundle, SignalRepository  # noqa: E402
from wamd.store import MemoryKeyStore  # noqa: E402

# one file per codec, so that a compiled-codec run is compared with the last such run
RESULTS = (
    _HERE / ".results" / ("vs_baileys.json" if CODEC == "pure" else f"vs_baileys-{CODEC}.json")
)
ALICE, BOB = "15550000001@s.whatsapp.net", "15550000002@s.whatsapp.net"
PAYLOAD = b"x" * 120

# work per round (times --scale): enough for a few tenths of a CPU-second on either side
SIZES = {"passes": 4, "setups": 300, "rounds": 400, "stream": 2000}


# ---------------------------------------------------------------------------- corpus


def make_corpus(count: int, seed: int = 1) -> list[Node]:
    """Stanzas as a client sees and sends them; unique ids, users from a pool of 300."""
    rnd = random.Random(seed)
    users = [str(rnd.randrange(10**10, 10**11)) for _ in range(300)]
    lids = [str(rnd.randrange(10**14, 10**15)) for _ in range(300)]
    t = 1_732_500_000

    def blob(n: int) -> bytes:
        return rnd.randbytes(n)

    def msg_id() -> str:
        return "3EB0" + rnd.randbytes(9).hex().upper()

    def jid(device: int | None = None) -> str:
        user = rnd.choice(users)
        return f"{user}:{device}@s.whatsapp.net" if device else f"{user}@s.whatsapp.net"

    out: list[Node] = []
    for i in range(count):
        t += rnd.randrange(1, 30)
        kind = i % 8
        if kind == 0:  # outgoing 1:1 text to three devices, with our device identity
            out.append(
                Node(
                    "message",
                    {"id": msg_id(), "type": "text", "to": jid()},
                    [
                        Node(
                            "participants",
                            {},
                            [
                                Node(
                                    "to",
                                    {"jid": jid(d)},
                                    [Node("enc", {"v": "2", "type": "msg"}, blob(150 + d))],
                                )
                                for d in (1, 2, 3)
                            ],
                        ),
                        Node("device-identity", {}, blob(151)),
                    ],
                )
            )
        elif kind == 1:  # incoming prekey message with its skmsg (a group)
            out.append(
                Node(
                    "message",
                    {
                        "from": f"120363{rnd.randrange(10**12, 10**13)}@g.us",
                        "participant": f"{rnd.choice(lids)}:{rnd.randrange(1, 20)}@lid",
                        "id": msg_id(),
                        "type": "text",
                        "notify": rnd.choice(["Ana", "Bruno Silva", "Chen Wei", "Dmitri"]),
                        "t": str(t),
                    },
                    [
                        Node("enc", {"v": "2", "type": "pkmsg"}, blob(420)),
                        Node("enc", {"v": "2", "type": "skmsg"}, blob(110)),
                    ],
                )
            )
        elif kind == 2:  # incoming 1:1 message
            out.append(
                Node(
                    "message",
                    {"from": jid(), "id": msg_id(), "type": "text", "t": str(t), "notify": "Eva"},
                    [Node("enc", {"v": "2", "type": "msg"}, blob(rnd.randrange(60, 300)))],
                )
            )
        elif kind == 3:  # read receipt for several messages
            out.append(
                Node(
                    "receipt",
                    {"from": jid(rnd.randrange(0, 3)), "id": msg_id(), "type": "read", "t": str(t)},
                    [Node("list", {}, [Node("item", {"id": msg_id()}) for _ in range(3)])],
                )
            )
        elif kind == 4:  # delivery receipt we send
            out.append(Node("receipt", {"id": msg_id(), "to": jid(), "t": str(t)}))
        elif kind == 5:  # ack of a message
            out.append(
                Node("ack", {"class": "message", "id": msg_id(), "from": jid(), "t": str(t)})
            )
        elif kind == 6:  # a prekey bundle answer for two devices
            out.append(
                Node(
                    "iq",
                    {
                        "from": "s.whatsapp.net",
                        "id": f"{rnd.randrange(10**4, 10**5)}.{i}-1",
                        "type": "result",
                    },
                    [
                        Node(
                            "list",
                            {},
                            [
                                Node(
                                    "user",
                                    {"jid": jid(d)},
                                    [
                                        Node("registration", {}, blob(4)),
                                        Node("type", {}, b"\x05"),
                                        Node("identity", {}, blob(32)),
                                        Node(
                                            "skey",
                                            {},
                                            [
                                                Node("id", {}, blob(3)),
                                                Node("value", {}, blob(32)),
                                                Node("signature", {}, blob(64)),
                                            ],
                                        ),
                                        Node(
                                            "key",
                                            {},
                                            [Node("id", {}, blob(3)), Node("value", {}, blob(32))],
                                        ),
                                    ],
                                )
                                for d in (0, 2)
                            ],
                        )
                    ],
                )
            )
        else:  # a notification
            out.append(
                Node(
                    "notification",
                    {
                        "from": jid(),
                        "type": "devices",
                        "id": str(rnd.randrange(10**9, 10**10)),
                        "t": str(t),
                    },
                    [Node("add", {}, [Node("device", {"jid": jid(rnd.randrange(1, 9))})])],
                )
            )
    return out


def node_json(node: Node) -> list[Any]:
    content = node.content
    if isinstance(content, list):
        body: Any = [node_json(c) for c in content]
    elif isinstance(content, bytes):
        body = {"b64": base64.b64encode(content).decode()}
    else:
        body = content
    return [node.tag, node.attrs, body]


# ---------------------------------------------------------------------------- wamd side


def cpu_rate(count: int, cpu: float) -> float:
    return count / cpu if cpu > 0 else float("inf")


def wamd_binary_encode(nodes: list[Node], passes: int, version: int) -> float:
    cpu = 0.0
    for _ in range(passes):
        clear_caches()
        start = time.process_time()
        for node in nodes:
            encode_node(node, dict_version=version)
        cpu += time.process_time() - start
    return cpu_rate(passes * len(nodes), cpu)


def wamd_binary_decode(encoded: list[bytes], passes: int, version: int) -> float:
    cpu = 0.0
    for _ in range(passes):
        clear_caches()
        start = time.process_time()
        for data in encoded:
            decode_node(data, dict_version=version)
        cpu += time.process_time() - start
    return cpu_rate(passes * len(encoded), cpu)


def _device() -> SignalRepository:
    identity = generate_keypair()
    return SignalRepository(MemoryKeyStore(), identity, 1, SignedKeyPair.generate(identity, 1))


def _bundle(bob: SignalRepository, key_id: int, public: bytes) -> PreKeyBundle:
    signed = bob.signed_prekey
    return PreKeyBundle(
        bob.registration_id,
        0,
        bob.identity.public,
        signed.key_id,
        signed.key_pair.public,
        signed.signature,
        key_id,
        public,
    )


async def _established() -> tuple[SignalRepository, SignalRepository]:
    alice, bob = _device(), _device()
    [(key_id, key)] = await bob.new_prekeys(1, 1)
    await alice.inject_bundle(BOB, _bundle(bob, key_id, key.public))
    await bob.decrypt(ALICE, *(await alice.encrypt(BOB, PAYLOAD)))
    await alice.decrypt(BOB, *(await bob.encrypt(ALICE, PAYLOAD)))
    return alice, bob


async def wamd_setups(count: int) -> float:
    alice, bob = _device(), _device()
    bundles = [_bundle(bob, i + 1, generate_keypair().public) for i in range(count)]
    start = time.process_time()
    for i, bundle in enumerate(bundles):
        await alice.inject_bundle(f"1555{i:07d}@s.whatsapp.net", bundle)
    return cpu_rate(count, time.process_time() - start)


async def wamd_pingpong(rounds: int) -> float:
    alice, bob = await _established()
    start = time.process_time()
    for _ in range(rounds):
        await bob.decrypt(ALICE, *(await alice.encrypt(BOB, PAYLOAD)))
        await alice.decrypt(BOB, *(await bob.encrypt(ALICE, PAYLOAD)))
    return cpu_rate(2 * rounds, time.process_time() - start)


async def wamd_stream(count: int) -> tuple[float, float]:
    alice, bob = await _established()
    start = time.process_time()
    sent = [await alice.encrypt(BOB, PAYLOAD) for _ in range(count)]
    enc = time.process_time() - start
    start = time.process_time()
    for kind, data in sent:
        await bob.decrypt(ALICE, kind, data)
    return cpu_rate(count, enc), cpu_rate(count, time.process_time() - start)


# ---------------------------------------------------------------------------- Baileys side


class Node_:
    """bench/vs_baileys.js in a node process, one request at a time."""

    def __init__(self, modules: Path) -> None:
        self.proc = subprocess.Popen(
            ["node", str(_HERE / "vs_baileys.js")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=dict(os.environ, NODE_PATH=str(modules)),
        )
        ready = self._read()
        self.version: str = ready["ready"]
        self.dict_version: int = ready["dict_version"]  # the token dictionary Baileys uses

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("the Baileys worker ended")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise SystemExit(f"the Baileys worker failed: {answer['error']}")
        return answer

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def baileys_or_reason() -> Path | str:
    """Baileys' node_modules folder, or why it cannot be had."""
    import pytest

    from tests.interop.conftest import baileys_modules

    try:
        return baileys_modules()
    except pytest.skip.Exception as exc:
        return str(exc.msg)


# ---------------------------------------------------------------------------- the run


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the work per round")
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--corpus", type=int, default=800, help="stanzas in the codec corpus")
    args = parser.parse_args()
    modules = baileys_or_reason()
    if isinstance(modules, str):
        print(f"skipped: Baileys is not available ({modules})")
        return 0
    sizes = {k: max(1, round(v * args.scale)) for k, v in SIZES.items()}
    nodes = make_corpus(args.corpus)
    worker = Node_(modules)
    version = worker.dict_version
    encoded = [encode_node(n, dict_version=version) for n in nodes]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "corpus.json"
            path.write_text(
                json.dumps(
                    {
                        "nodes": [node_json(n) for n in nodes],
                        "encoded": [base64.b64encode(e).decode() for e in encoded],
                    }
                )
            )
            loaded = worker.call("corpus", path=str(path))
        if loaded["differ"]:
            print(
                f"warning: Baileys encodes {loaded['differ']} of {len(nodes)} stanzas differently"
            )
        # the same decoded tree, checked once on the wamd side
        assert all(
            decode_node(e, dict_version=version) == n for e, n in zip(encoded, nodes, strict=True)
        )

        def baileys_stream() -> tuple[float, float]:
            r = worker.call("stream", count=sizes["stream"])
            return cpu_rate(r["count"], r["cpu"]), cpu_rate(r["count"], r["decrypt_cpu"])

        def rate(answer: dict[str, Any]) -> float:
            return cpu_rate(answer["count"], answer["cpu"])

        passes = sizes["passes"]
        # name -> (wamd run, Baileys run); stream runs give two figures at once
        workloads: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
            "binary_encode": (
                lambda: wamd_binary_encode(nodes, passes, version),
                lambda: rate(worker.call("binary_encode", passes=passes)),
            ),
            "binary_decode": (
                lambda: wamd_binary_decode(encoded, passes, version),
                lambda: rate(worker.call("binary_decode", passes=passes)),
            ),
            "setups": (
                lambda: asyncio.run(wamd_setups(sizes["setups"])),
                lambda: rate(worker.call("setups", count=sizes["setups"])),
            ),
            "pingpong": (
                lambda: asyncio.run(wamd_pingpong(sizes["rounds"])),
                lambda: rate(worker.call("pingpong", rounds=sizes["rounds"])),
            ),
            "stream": (lambda: asyncio.run(wamd_stream(sizes["stream"])), baileys_stream),
        }
        wanted = {w for w in args.only.split(",") if w}
        figures: dict[str, tuple[list[float], list[float]]] = {}
        for name, (ours, theirs) in workloads.items():
            if (
                wanted
                and name not in wanted
                and not (name == "stream" and wanted & {"stream_encrypt", "stream_decrypt"})
            ):
                continue
            ours(), theirs()  # warm-up round, not counted
            runs: list[tuple[Any, Any]] = []
            for pair in range(args.pairs):
                if pair % 2:
                    b = theirs()
                    w = ours()
                else:
                    w = ours()
                    b = theirs()
                runs.append((w, b))
            if name == "stream":
                for i, sub in enumerate(("stream_encrypt", "stream_decrypt")):
                    figures[sub] = ([w[i] for w, _ in runs], [b[i] for _, b in runs])
            else:
                figures[name] = ([w for w, _ in runs], [b for _, b in runs])
    finally:
        worker.close()

    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    print(
        f"wamd ({CODEC} codec) vs Baileys {worker.version} (token dictionary {version}),"
        f" {args.pairs} pairs, medians, per CPU-second"
    )
    print(f"{'figure':<16} {'wamd/s':>10} {'Baileys/s':>10} {'ratio':>7}   previous ratio")
    results: dict[str, dict[str, float]] = dict(previous)
    for name, (ours_runs, theirs_runs) in figures.items():
        w, b = statistics.median(ours_runs), statistics.median(theirs_runs)
        # each pair ran back to back under the same load: the median of the pairs' ratios
        ratio = statistics.median(x / y for x, y in zip(ours_runs, theirs_runs, strict=True))
        line = f"{name:<16} {w:>10,.0f} {b:>10,.0f} {ratio:>6.2f}x"
        old = previous.get(name)
        if old:
            line += f"   {old['ratio']:.2f}x ({100 * (ratio / old['ratio'] - 1):+.0f}%)"
        print(line)
        results[name] = {"wamd": round(w), "baileys": round(b), "ratio": round(ratio, 3)}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
