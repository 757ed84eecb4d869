"""Build the optional compiled binary codec: wamd/binary/codec.py compiled with mypyc.

    python scripts/build_speedups.py          # build wamd/binary/_codec_c*.so
    python scripts/build_speedups.py --clean  # remove them

The compiled module is the same source as the pure-Python codec (copied under the name
``wamd.binary._codec_c`` and compiled), so both behave alike; tests/binary/test_speedups.py
checks them against each other when it is built. It needs mypy (the dev extra) and a C
compiler, and is used only when asked for: ``WAMD_SPEEDUPS=1`` in the environment when
``wamd.binary`` is first imported, and only while ``codec.py`` is the file it was built
from (its SHA-256 is kept next to the build; otherwise a warning and the pure codec). Without that, or without the build, wamd runs the pure
Python codec, which is the default and what the test suite tests. The built files are
ignored by git and are not part of the package.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "wamd" / "binary"
NAME = "_codec_c"


def built() -> list[Path]:
    return [p for p in sorted(PACKAGE.glob(f"{NAME}*")) if p.suffix in (".so", ".pyd", ".sha256")]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clean", action="store_true", help="remove the compiled files")
    args = parser.parse_args()
    for old in built():
        old.unlink()
    if args.clean:
        return 0
    mypyc = shutil.which("mypyc")
    if mypyc is None:
        print("mypyc not found: install the dev extra (pip install -e '.[dev]')", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="wamd-speedups-") as tmp:
        work = Path(tmp)
        target = work / "wamd" / "binary"
        target.mkdir(parents=True)
        (work / "wamd" / "__init__.py").write_text("")
        (target / "__init__.py").write_text("")
        source = (PACKAGE / "codec.py").read_bytes()
        (target / f"{NAME}.py").write_bytes(source)
        result = subprocess.run(
            [mypyc, f"wamd/binary/{NAME}.py"],
            cwd=work,
            capture_output=True,
            text=True,
            env=None,
            check=False,
        )
        if result.returncode != 0:
            print(result.stdout[-3000:], result.stderr[-3000:], file=sys.stderr)
            return 1
        for lib in sorted(target.glob(f"{NAME}*")):
            if lib.suffix in (".so", ".pyd"):
                shutil.copy(lib, PACKAGE / lib.name)
        # wamd.binary uses the build only while codec.py is still what it was made from
        (PACKAGE / f"{NAME}.sha256").write_text(hashlib.sha256(source).hexdigest() + "\n")
    print("built:", ", ".join(p.name for p in built()))
    print("use it with WAMD_SPEEDUPS=1")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
