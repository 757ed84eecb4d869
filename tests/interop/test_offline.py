"""Without the npm registry the Baileys tests are skipped with the reason, at once.

A pytest run of ``tests/interop`` with an empty cache and an npm registry address on which
nothing listens (a closed loopback port: what an offline machine gets, without its DNS
wait) must skip every Baileys test saying why, instead of erroring after ``npm install``'s
600 s timeout.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_without_the_registry_the_interop_tests_are_skipped_saying_why(tmp_path: Path) -> None:
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("node and npm are needed for this check")
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # nothing installed yet
    env["npm_config_registry"] = f"http://127.0.0.1:{_closed_port()}/"
    env["npm_config_cache"] = str(tmp_path / "npm-cache")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-rs",
            "-p",
            "no:cacheprovider",
            "tests/interop/test_baileys.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    summary = output.strip().splitlines()[-1]
    assert re.fullmatch(r"=* ?\d+ skipped in [\d.]+s ?=*", summary), output[-3000:]
    assert "the npm registry is unreachable" in output, output[-3000:]
    assert not (tmp_path / "cache" / "wamd").exists()  # nothing half-installed left behind
