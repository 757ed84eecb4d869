"""A real headless Chromium for the console's tests, driven by Playwright for Python.

The browser is Debian's ``chromium`` (``/usr/bin/chromium``): when it is missing and we run
as root on a Debian-like system it is installed once with ``apt-get install -y chromium
chromium-driver`` (after ``apt-get update`` if the first try fails). Playwright's own
browser download (``playwright install``) is never used. Where the browser or Playwright
cannot be had the tests are skipped with the reason.

Each test gets a fresh browser with a fresh user-data directory (``page``), launched with
flags that keep it off the network: no QUIC, no background networking, no component
updates, no sync.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
APT_TIMEOUT = 600  # seconds; apt-get update plus the install on a slow mirror
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
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


def _install_chromium() -> str:
    """``""`` when ``/usr/bin/chromium`` is there (now), else why not."""
    if os.path.exists(CHROMIUM):
        return ""
    if sys.platform != "linux":
        return f"{CHROMIUM} is missing and cannot be installed on {sys.platform}"
    if os.geteuid() != 0:
        return f"{CHROMIUM} is missing and we are not root to apt-get install chromium"
    if shutil.which("apt-get") is None:
        return f"{CHROMIUM} is missing and there is no apt-get to install it"
    lock_path = Path(tempfile.gettempdir(), "wamd-chromium-install.lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one installer at a time (parallel test runs)
        if os.path.exists(CHROMIUM):
            return ""
        try:
            install = (
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "chromium",
                "chromium-driver",
            )
            done = _apt(*install)
            if done.returncode != 0:
                _apt("update", "-q")
                done = _apt(*install)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"apt-get install chromium failed: {exc}"
        if os.path.exists(CHROMIUM):
            # colour emoji for the screenshots (reactions); the tests pass without them
            _apt("install", "-y", "-q", "--no-install-recommends", "fonts-noto-color-emoji")
            return ""
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        return f"apt-get install chromium failed: {' '.join(tail) or done.returncode}"


@pytest.fixture(scope="session")
def chromium() -> str:
    """The browser's path (or a skip with the reason)."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install -e '.[dev]')")
    reason = _install_chromium()
    if reason:
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
async def page(chromium: str, tmp_path: Path) -> AsyncIterator[Any]:
    """A page in a fresh headless Chromium (a fresh user-data directory)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=chromium,
            headless=True,
            args=ARGS,
            viewport={"width": 1280, "height": 800},
        )
        try:
            context.set_default_timeout(20_000)
            page = context.pages[0] if context.pages else await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.errors = errors  # type: ignore[attr-defined]  # read by the tests
            yield page
        finally:
            await context.close()
