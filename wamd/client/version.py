"""Looking up the current WhatsApp Web version, where the network allows.

WhatsApp refuses clients whose announced web version is too old (a ``405`` connect
failure). The current build number is published in WhatsApp Web's service worker
script: ``https://web.whatsapp.com/sw.js`` carries ``"client_revision": N`` (written
with escaped quotes inside a JSON string), and the version is ``2.3000.N`` (the
lookup Baileys' ``fetchLatestWaWebVersion`` does). ``wamd.defaults.WA_VERSION`` is the
fallback kept in the package; pass the result as ``make_wa_socket(version=...)``.
"""

from __future__ import annotations

import asyncio
import re
import urllib.error
import urllib.request

from wamd.defaults import WA_ORIGIN
from wamd.errors import VersionLookupError

__all__ = ["SW_URL", "VersionLookupError", "fetch_latest_version"]

SW_URL = f"{WA_ORIGIN}/sw.js"  # WhatsApp Web's service worker, which names the build
_REVISION = re.compile(rb'\\?"client_revision\\?":\s*(\d+)')
MAX_BYTES = 8 << 20  # the script is a few hundred KiB; refuse anything absurd


def _fetch(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "Mozilla/5.0 (wamd)"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bytes(response.read(MAX_BYTES + 1))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise VersionLookupError(f"could not fetch {url}: {exc}") from None


async def fetch_latest_version(url: str = SW_URL, timeout: float = 10.0) -> tuple[int, int, int]:
    """The current WhatsApp Web version, e.g. ``(2, 3000, 1029030078)``.

    Raises ``VersionLookupError`` when the page cannot be fetched or names no build.
    """
    body = await asyncio.to_thread(_fetch, url, timeout)
    if len(body) > MAX_BYTES:
        raise VersionLookupError(f"{url} is larger than {MAX_BYTES} bytes")
    match = _REVISION.search(body)
    if match is None:
        raise VersionLookupError(f"{url} does not name a client_revision")
    return (2, 3000, int(match.group(1)))
