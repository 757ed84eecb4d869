"""wamd: a pure-Python client for WhatsApp's multi-device protocol."""

from wamd.client import WASocket, fetch_latest_version, make_wa_socket, run_forever
from wamd.client.content import AnyMessageContent
from wamd.errors import ConnectionClosed, ContentError, DisconnectReason, SendError, WamdError
from wamd.events import ConnectionUpdate, EventName, MessagesUpsert
from wamd.messaging.types import MessageKey, WAMessage
from wamd.store import AuthState, use_multi_file_auth_state, use_sqlite_auth_state

__all__ = [
    "AnyMessageContent",
    "AuthState",
    "ConnectionClosed",
    "ConnectionUpdate",
    "ContentError",
    "DisconnectReason",
    "EventName",
    "MessageKey",
    "MessagesUpsert",
    "SendError",
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
