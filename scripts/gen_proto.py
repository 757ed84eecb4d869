"""Regenerate wamd/proto/*_pb2.py (and .pyi stubs) from proto/*.proto.

    python scripts/gen_proto.py          # write the modules
    python scripts/gen_proto.py --check  # exit 1 naming the modules that differ

The compiler is grpcio-tools, pinned in pyproject's dev extra so that output is
byte-for-byte reproducible. protoc writes cross-file imports as top-level imports
(``import common_pb2``); they are rewritten to ``from wamd.proto import common_pb2``.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "proto"
TARGET = ROOT / "wamd" / "proto"

_IMPORT = re.compile(r"^import (\w+_pb2) as (\w+)$", re.MULTILINE)


def generate(out: Path) -> dict[str, bytes]:
    """Compile every .proto into ``out``; return {file name: fixed-up contents}."""
    from grpc_tools import protoc  # imported late: a dev-only dependency

    protos = sorted(p.name for p in SOURCES.glob("*.proto"))
    args = [
        "protoc",
        f"-I{SOURCES}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    files: dict[str, bytes] = {}
    for path in sorted(out.iterdir()):
        text = path.read_text()
        text = _IMPORT.sub(r"from wamd.proto import \1 as \2", text)
        files[path.name] = text.encode()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        files = generate(Path(tmp))
    existing = {p.name for p in TARGET.glob("*_pb2.py*")}
    if args.check:
        stale = sorted(
            name
            for name, data in files.items()
            if not (TARGET / name).exists() or (TARGET / name).read_bytes() != data
        )
        stale += sorted(existing - set(files))
        if stale:
            print("generated protobuf modules are out of date: " + ", ".join(stale))
            print("run: python scripts/gen_proto.py")
            return 1
        return 0
    for name in existing - set(files):
        (TARGET / name).unlink()
    for name, data in files.items():
        (TARGET / name).write_bytes(data)
    print(f"wrote {len(files)} files to {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
