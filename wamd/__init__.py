"""wamd: a pure-Python client for WhatsApp's multi-device protocol."""

from wamd.errors import ConnectionClosed, DisconnectReason, WamdError

__all__ = ["ConnectionClosed", "DisconnectReason", "WamdError", "__version__"]

__version__ = "0.1.0"
