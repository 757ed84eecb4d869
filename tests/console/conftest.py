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

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.apt import apt_install

CHROMIUM = "/usr/bin/chromium"
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


def _install_chromium() -> str:
    """``""`` when ``/usr/bin/chromium`` is there (now), else why not."""
    reason = apt_install(
        CHROMIUM, ("chromium", "chromium-driver"), lambda: os.path.exists(CHROMIUM)
    )
    if not reason and not os.path.exists("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"):
        # colour emoji for the screenshots (reactions); the tests pass without them
        apt_install("colour emoji", ("fonts-noto-color-emoji",), lambda: False)
    return reason


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
