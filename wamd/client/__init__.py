"""The client: ``make_wa_socket`` and its ``WASocket``."""

from wamd.client.socket import SocketOptions, WASocket, make_wa_socket
from wamd.client.supervisor import FINAL_REASONS, run_forever
from wamd.client.version import VersionLookupError, fetch_latest_version

__all__ = [
    "FINAL_REASONS",
    "SocketOptions",
    "VersionLookupError",
    "WASocket",
    "fetch_latest_version",
    "make_wa_socket",
    "run_forever",
]
