"""The sim's flood limit per connection, and hanging up on a client that breaks it.

A token bucket of ``STANZA_BURST`` stanzas refilled at ``STANZA_RATE`` per second of real
(monotonic) time, not the sim's scriptable clock: a test that freezes or jumps the clock
must not starve or flood-exempt a client. A client beyond it is disconnected and the
reason logged. WhatsApp's own limits are not public; these are far above what a
well-behaved client sends (the load test stays below a tenth of them per connection).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from wamd.errors import DisconnectReason
from wamd.transport import NodeConnection

__all__ = ["STANZA_BURST", "STANZA_RATE", "FloodLimit", "drop"]

STANZA_RATE = 500.0
STANZA_BURST = 2000.0


class FloodLimit:
    """A token bucket refilled on ``clock`` (monotonic time unless told otherwise)."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.clock = clock
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.last = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


async def drop(conn: NodeConnection, why: str) -> None:
    """Hang up on a misbehaving client at once.

    A graceful websocket close would wait for the peer's closing frame behind every
    frame it has already pushed at us (the flood itself), for the close timeout.
    """
    transport = getattr(conn.ws, "transport", None)
    if transport is not None:
        transport.abort()
    await conn.close(DisconnectReason.BAD_SESSION, why)
