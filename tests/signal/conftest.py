"""A python-axolotl peer in its own virtualenv (an independent libsignal v3 port).

python-axolotl needs protobuf's pure-Python runtime, so it cannot share our process: the
first run creates a virtualenv under the user cache (or uses $WAMD_AXOLOTL_PYTHON) and
installs it from PyPI. Without network or pip the interop tests are skipped, saying why.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PEER = Path(__file__).with_name("axolotl_peer.py")
AXOLOTL_VERSION = "0.2.3"


def _axolotl_python() -> str:
    configured = os.environ.get("WAMD_AXOLOTL_PYTHON")
    if configured:
        return configured
    cache = (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "wamd"
        / f"axolotl-{AXOLOTL_VERSION}"
    )
    python = cache / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    marker = cache / ".installed"
    if not marker.exists():
        venv.create(cache, with_pip=True, clear=True)
        result = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"python-axolotl=={AXOLOTL_VERSION}"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            pytest.skip(
                f"cannot install python-axolotl for the interop tests: {result.stderr[-300:]}"
            )
        marker.write_text("ok")
    return str(python)


class AxolotlPeer:
    def __init__(self, python: str) -> None:
        env = {**os.environ, "PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION": "python"}
        env.pop("PYTHONPATH", None)
        self.proc = subprocess.Popen(
            [python, str(PEER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def call(self, op: str, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        reply: dict[str, Any] = json.loads(self.proc.stdout.readline())
        if not reply.pop("ok"):
            raise AssertionError(f"axolotl peer failed: {reply['error']}\n{reply['trace']}")
        return reply

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def axolotl_python() -> str:
    try:
        return _axolotl_python()
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot prepare python-axolotl: {exc}")


@pytest.fixture
def peer(axolotl_python: str) -> Iterator[AxolotlPeer]:
    p = AxolotlPeer(axolotl_python)
    yield p
    p.close()
