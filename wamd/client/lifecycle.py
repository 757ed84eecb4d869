"""The phases of a socket, as data with named transitions.

```
  idle ──connect──▶ connecting ──▶ pairing ─────┐          (no device yet: QR / code)
                        │                      │
                        └──────▶ logging_in ──▶ open      (a paired device)
                                     │          │
      any phase but idle/closed ──▶ closing ◀───┘
                                     │
            515 restart ◀────────────┤──▶ closed ──connect──▶ connecting
```

Each connection is one ``Attempt`` (``wamd.client.core``) that carries its own close
reason and work; the phase says where the socket as a whole is. A transition that the
table does not allow is a bug in wamd and raises ``InvalidTransition``.
"""

from __future__ import annotations

import enum
import logging

from wamd.errors import WamdError

__all__ = ["InvalidTransition", "Lifecycle", "Phase"]


class Phase(enum.Enum):
    IDLE = "idle"  # made, never connected
    CONNECTING = "connecting"  # websocket and Noise handshake
    PAIRING = "pairing"  # connected as a new device: QR codes or a pairing code
    LOGGING_IN = "logging_in"  # connected as a paired device, until <success> is handled
    OPEN = "open"  # logged in
    CLOSING = "closing"  # the connection ended; its work is being stopped
    CLOSED = "closed"  # nothing runs; connect() starts again


_ALLOWED: dict[Phase, frozenset[Phase]] = {
    Phase.IDLE: frozenset({Phase.CONNECTING, Phase.CLOSED}),
    Phase.CONNECTING: frozenset({Phase.PAIRING, Phase.LOGGING_IN, Phase.CLOSING}),
    Phase.PAIRING: frozenset({Phase.CLOSING}),
    Phase.LOGGING_IN: frozenset({Phase.OPEN, Phase.CLOSING}),
    Phase.OPEN: frozenset({Phase.CLOSING}),
    Phase.CLOSING: frozenset({Phase.CONNECTING, Phase.CLOSED}),
    Phase.CLOSED: frozenset({Phase.CONNECTING}),
}


class InvalidTransition(WamdError):
    """wamd tried to move a socket between two phases that do not follow each other."""


class Lifecycle:
    def __init__(self, log: logging.Logger) -> None:
        self.phase = Phase.IDLE
        self._log = log

    def enter(self, phase: Phase) -> None:
        if phase not in _ALLOWED[self.phase]:
            raise InvalidTransition(f"a socket cannot go from {self.phase.value} to {phase.value}")
        self._log.debug("socket phase: %s -> %s", self.phase.value, phase.value)
        self.phase = phase

    @property
    def running(self) -> bool:
        """Between connect() and the final close."""
        return self.phase not in (Phase.IDLE, Phase.CLOSED)
