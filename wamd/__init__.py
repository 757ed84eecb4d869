"""wamd: a pure-Python client for WhatsApp's multi-device protocol."""

from wamd.client import WASocket, make_wa_socket, run_forever
from wamd.errors import ConnectionClosed, DisconnectReason, WamdError
from wamd.store import use_multi_file_auth_state, use_sqlite_auth_state

__all__ = [
    "ConnectionClosed",
    "DisconnectReason",
    "WASocket",
    "WamdError",
    "__version__",
    "make_wa_socket",
    "run_forever",
    "use_multi_file_auth_state",
    "use_sqlite_auth_state",
]

__version__ = "0.1.0"
