"""Installing a Debian package a test needs (a server, a browser), once per machine.

``apt_install`` runs ``apt-get install -y`` (and ``apt-get update`` then again, if the first
try fails) when the thing is missing and we are root on a Debian-like system, one installer at
a time across parallel test runs. It answers ``""`` when the thing is there, else the reason it
is not, for the caller's ``pytest.skip``.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

APT_TIMEOUT = 600  # seconds; apt-get update plus the install on a slow mirror


def apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", "-o", "DPkg::Lock::Timeout=120", *args],  # wait out another apt
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=APT_TIMEOUT,
        check=False,
    )


def apt_install(what: str, packages: Sequence[str], present: Callable[[], bool]) -> str:
    """Make ``present()`` hold by installing ``packages``; ``""``, or why it does not."""
    if present():
        return ""
    if sys.platform != "linux":
        return f"{what} is missing and cannot be installed on {sys.platform}"
    if os.geteuid() != 0:
        return f"{what} is missing and we are not root to apt-get install it"
    if shutil.which("apt-get") is None:
        return f"{what} is missing and there is no apt-get to install it"
    lock_path = Path(tempfile.gettempdir(), f"wamd-{packages[0]}-install.lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time (parallel test runs)
        if present():
            return ""
        install = ("install", "-y", "-q", "--no-install-recommends", *packages)
        try:
            done = apt(*install)
            if done.returncode != 0:
                apt("update", "-q")
                done = apt(*install)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"apt-get install {' '.join(packages)} failed: {exc}"
        if present():
            return ""
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        return f"apt-get install {' '.join(packages)} failed: {' '.join(tail) or done.returncode}"
