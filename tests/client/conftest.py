"""Shared fixtures: a sim on 127.0.0.1 and a paired socket.

The helpers are the public test kit's (``wamd.testing``), under the names these tests
have always used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from wamd.messaging.types import WAMessage
from wamd.sim import SimServer
from wamd.testing import Inbox as KitInbox
from wamd.testing import link, record_sends, sim_server, socket_for, spy
from wamd.testing import new_auth_state as new_state

__all__ = ["Inbox", "link", "new_state", "record_sends", "sim", "socket_for", "spy"]


class Inbox(KitInbox):
    """Every message a socket emits in ``messages.upsert``, with a way to wait for more."""

    async def wait(
        self, predicate: Callable[[WAMessage], bool] = lambda m: True, timeout: float = 10
    ) -> WAMessage:
        """The first message, so far or from now on, for which ``predicate`` holds."""
        message: WAMessage = await self.wait_for(predicate, timeout=timeout)
        return message


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with sim_server() as server:
        yield server
