"""The client: ``make_wa_socket`` and its ``WASocket``."""

from wamd.client.socket import SocketOptions, WASocket, make_wa_socket

__all__ = ["SocketOptions", "WASocket", "make_wa_socket"]
