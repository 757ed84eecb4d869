"""Defaults kept in one place: the WhatsApp Web version, browser identity, endpoints.

WhatsApp refuses clients whose web version is too old with a 405 ("client outdated")
connect failure. When that happens, update ``WA_VERSION`` here (or pass ``version=``);
``wamd.client`` also offers a helper that looks the current version up where the
network allows.
"""

from __future__ import annotations

from typing import Final

from wamd.noise.cert import WHATSAPP_ROOT_PUBLIC_KEY, WHATSAPP_ROOT_SERIAL

__all__ = [
    "DEFAULT_BROWSER",
    "WA_ORIGIN",
    "WA_URL",
    "WA_VERSION",
    "WHATSAPP_ROOT_PUBLIC_KEY",
    "WHATSAPP_ROOT_SERIAL",
]

WA_URL: Final = "wss://web.whatsapp.com/ws/chat"  # the multi-device websocket endpoint
WA_ORIGIN: Final = "https://web.whatsapp.com"  # Origin header WhatsApp expects
# The web client version announced in the user agent (whatsmeow's at the time of writing;
# Baileys carried 2.3000.1035194821, older).
WA_VERSION: Final[tuple[int, int, int]] = (2, 3000, 1045649367)
# (operating system, browser, os version): shown on the phone as "Browser (OS)".
DEFAULT_BROWSER: Final[tuple[str, str, str]] = ("Ubuntu", "Chrome", "22.04.4")
