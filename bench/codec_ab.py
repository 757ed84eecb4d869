"""Same-process A/B of two versions of the binary codec on the vs_baileys corpus.

    python bench/codec_ab.py [--ref main] [--compiled] [--rounds 20] [--op decode]

Loads ``wamd/binary/codec.py`` as it is at git ``--ref`` (A) and as it is in the work
tree (B), each under its own module name (with ``--compiled``, each compiled with mypyc
as ``scripts/build_speedups.py`` does, cached by the source's SHA-256 under
``$TMPDIR/wamd-codec-ab``), checks that both decode the corpus to the same nodes, then
alternates them (the order swapped every round), one cold-cache pass over the 800
stanzas of ``bench/vs_baileys.py`` (token dictionary 2) per turn, timed in CPU time.
Prints each side's median rate and the median of the rounds' B ÷ A ratios: a change is
believed when this ratio says so, since a ratio against Baileys moves by 10-30 %
between runs.

``--fuzz N`` first decodes N damaged frames (corpus stanzas with bytes changed and cut
short) and N short frames around random packed-number, hex and JID items with both,
cold and warm caches, and stops at the first frame on which A and B differ (the node, or
the ``DecodeError`` message): for a change that must not change what is decoded.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/signal.py shadows the standard library's ``signal``: take bench/ off the path
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import hashlib  # noqa: E402
import importlib  # noqa: E402
import importlib.util  # noqa: E402
import random  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from types import ModuleType  # noqa: E402

from bench.vs_baileys import make_corpus  # noqa: E402
from wamd.binary import DecodeError, encode_node  # noqa: E402

ROOT = _HERE.parent


def _compiled(source: bytes, name: str) -> ModuleType:
    cache = Path(tempfile.gettempdir()) / "wamd-codec-ab" / name
    if not any(cache.glob(f"{name}*.so")):
        mypyc = shutil.which("mypyc")
        if mypyc is None:
            raise SystemExit("mypyc not found: install the dev extra")
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        (cache / f"{name}.py").write_bytes(source)
        subprocess.run([mypyc, f"{name}.py"], cwd=cache, check=True, capture_output=True)
        (cache / f"{name}.py").unlink()  # the .so, not the source, must be imported
    sys.path.insert(0, str(cache))
    return importlib.import_module(name)


def _pure(source: bytes, name: str) -> ModuleType:
    path = Path(tempfile.gettempdir()) / "wamd-codec-ab" / f"{name}.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load(source: bytes, compiled: bool) -> ModuleType:
    digest = hashlib.sha256(source).hexdigest()[:16]
    if compiled:
        return _compiled(source, f"_ab_c_{digest}")
    return _pure(source, f"_ab_p_{digest}")


def _outcome(module: ModuleType, raw: bytes, version: int) -> object:
    try:
        return module.decode_node(raw, dict_version=version)
    except DecodeError as exc:
        return ("DecodeError", str(exc))


def _item(rnd: random.Random) -> bytes:
    """A random packed number, packed hex string, AD_JID or JID_PAIR item."""

    def packed() -> bytes:
        n = rnd.randrange(12)
        body = bytes(rnd.choice((rnd.randrange(256), rnd.randrange(0x9A))) for _ in range(n))
        return bytes((rnd.choice((0xFF, 0xFB)), n | rnd.choice((0, 0x80)))) + body

    kind = rnd.randrange(4)
    if kind < 2:
        return packed()
    user = rnd.choice((packed(), b"\x00", b"\x03", b"\xfc\x02ab"))
    if kind == 2:
        return bytes((0xF7, rnd.randrange(256), rnd.randrange(256))) + user
    return b"\xfa" + user + rnd.choice((bytes((rnd.randrange(256),)), packed()))


def fuzz(a: ModuleType, b: ModuleType, encoded: list[bytes], count: int) -> None:
    rnd = random.Random(7)
    for i in range(count):
        version = rnd.choice((2, 3))
        raw = bytearray(rnd.choice(encoded))
        for _ in range(rnd.randrange(1, 5)):
            raw[rnd.randrange(len(raw))] = rnd.randrange(256)
        item = _item(rnd)
        frames = [
            bytes(raw[: rnd.randrange(1, len(raw) + 1)]),
            b"\x00\xf8\x03\x19\x1a" + item,  # as an attribute value
            b"\x00\xf8\x02\x19" + item,  # as content
        ]
        for frame in frames + [f[: rnd.randrange(1, len(f) + 1)] for f in frames[1:]]:
            if i % 2:
                a.clear_caches()
                b.clear_caches()
            for _ in range(2):  # the second time with what the first one cached
                one, other = _outcome(a, frame, version), _outcome(b, frame, version)
                if one != other:
                    raise SystemExit(
                        f"A and B differ on {frame.hex()} (v{version}):\n{one}\n{other}"
                    )
    print(f"fuzz: A and B agree on {count} damaged frames and {4 * count} item frames")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ref", default="main", help="git revision of A (B: the work tree)")
    parser.add_argument("--compiled", action="store_true", help="compile both with mypyc")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--op", choices=("decode", "encode"), default="decode")
    parser.add_argument("--fuzz", type=int, default=0, help="compare A and B on N damaged frames")
    args = parser.parse_args()
    old_source = subprocess.run(
        ["git", "show", f"{args.ref}:wamd/binary/codec.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    new_source = (ROOT / "wamd" / "binary" / "codec.py").read_bytes()
    a, b = load(old_source, args.compiled), load(new_source, args.compiled)
    nodes = make_corpus(800)
    encoded = [encode_node(n, dict_version=2) for n in nodes]
    for module in (a, b):
        assert [module.decode_node(e, dict_version=2) for e in encoded] == nodes
        assert [module.encode_node(n, dict_version=2) for n in nodes] == encoded
    if args.fuzz:
        fuzz(a, b, encoded, args.fuzz)

    def one_pass(module: ModuleType) -> float:
        module.clear_caches()
        if args.op == "decode":
            decode = module.decode_node
            start = time.process_time()
            for data in encoded:
                decode(data, dict_version=2)
        else:
            encode = module.encode_node
            start = time.process_time()
            for node in nodes:
                encode(node, dict_version=2)
        return time.process_time() - start

    one_pass(a), one_pass(b)  # warm-up
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(args.rounds):
        order = (0, 1) if i % 2 == 0 else (1, 0)
        for side in order:
            times[side].append(one_pass((a, b)[side]))
    rate_a = len(encoded) / statistics.median(times[0])
    rate_b = len(encoded) / statistics.median(times[1])
    ratio = statistics.median(x / y for x, y in zip(times[0], times[1], strict=True))
    kind = "compiled" if args.compiled else "pure"
    print(
        f"{args.op} ({kind}), {args.rounds} rounds: A ({args.ref}) {rate_a:,.0f}/s,"
        f" B (work tree) {rate_b:,.0f}/s, B/A {ratio:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
