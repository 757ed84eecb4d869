"""wamd: a pure-Python client for WhatsApp's multi-device protocol."""

from wamd.client import WASocket, fetch_latest_version, make_wa_socket, run_forever
from wamd.errors import ConnectionClosed, DisconnectReason, WamdError
from wamd.events import ConnectionUpdate, MessagesUpsert
from wamd.messaging.types import MessageKey, WAMessage
from wamd.store import use_multi_file_auth_state, use_sqlite_auth_state

__all__ = [
    "ConnectionClosed",
    "ConnectionUpdate",
    "DisconnectReason",
    "MessageKey",
    "MessagesUpsert",
    "WAMessage",
    "WASocket",
    "WamdError",
    "__version__",
    "fetch_latest_version",
    "make_wa_socket",
    "run_forever",
    "use_multi_file_auth_state",
    "use_sqlite_auth_state",
]

__version__ = "0.1.0"
