"""asyncio transport shared by the client and the local server: websockets + Noise + nodes."""

from wamd.transport.connection import (
    KEEPALIVE_INTERVAL,
    KEEPALIVE_TIMEOUT,
    NodeConnection,
    accept_server,
    connect_client,
)

__all__ = [
    "KEEPALIVE_INTERVAL",
    "KEEPALIVE_TIMEOUT",
    "NodeConnection",
    "accept_server",
    "connect_client",
]
