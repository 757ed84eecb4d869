"""The claim record, the limits, and the input checks every backend shares."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

from wamd.assign.errors import AssignmentError

__all__ = [
    "HANDLED_TTL",
    "MAX_TTL",
    "SENT_TTL",
    "Claim",
    "Grant",
]

MAX_TTL = 366 * 86400.0  # seconds; longer leases are a bug, not a policy
HANDLED_TTL = 7 * 86400.0  # how long a "handled" mark is remembered (WhatsApp redelivers for days)
SENT_TTL = 7 * 86400.0  # how long a bot send is remembered (echoes arrive within seconds)
MAX_NAME = 1024  # characters in a chat JID, handler name or message id


@dataclass(frozen=True, slots=True)
class Claim:
    """A chat held by a handler, as the backend answered at one moment.

    ``token`` is the fencing token: it is larger for every new tenure of the chat (a claim
    of a free or expired chat, a forced claim, a transfer to another handler) and stays the
    same while the same holder renews. ``ttl`` is the time left in seconds by the backend's
    clock when it answered. ``deadline`` is a conservative local ``time.monotonic()``
    deadline (the request's start plus ``ttl``): a holder that stops acting by then never
    overlaps the next holder unless the backend's clock runs faster than ours. ``fresh``
    says this very call started the tenure (exactly one caller sees ``fresh`` per token).
    """

    chat: str
    handler: str
    token: int
    ttl: float
    fresh: bool = False
    deadline: float = field(default=0.0, compare=False)

    @property
    def remaining(self) -> float:
        """Seconds left on the local, conservative view (0 when past the deadline)."""
        return max(0.0, self.deadline - time.monotonic())


@dataclass(frozen=True, slots=True)
class Grant:
    """What a backend primitive answers; the base class turns it into a ``Claim``."""

    chat: str
    handler: str
    token: int
    ttl_ms: int
    fresh: bool = False

    def claim(self, started: float) -> Claim:
        ttl = self.ttl_ms / 1000
        return Claim(self.chat, self.handler, self.token, ttl, self.fresh, started + ttl)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_name(value: Any, what: str) -> str:
    """A chat JID, handler name or message id: a non-empty string without NUL."""
    if not isinstance(value, str):
        raise AssignmentError(f"{what} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise AssignmentError(f"{what} must not be empty")
    if len(value) > MAX_NAME:
        raise AssignmentError(f"{what} is longer than {MAX_NAME} characters")
    if "\x00" in value:
        raise AssignmentError(f"{what} must not contain NUL: {_short(value)}")
    return value


def check_participant(value: Any) -> str:
    """A group participant JID, or ``None``/``""`` for a one-to-one chat (stored as ``""``)."""
    if value is None or value == "":
        return ""
    return check_name(value, "participant")


def check_ttl(value: Any, what: str = "ttl") -> int:
    """A time-to-live in seconds (positive, finite, at most ``MAX_TTL``) -> milliseconds."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AssignmentError(f"{what} must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise AssignmentError(f"{what} must be a positive number of seconds, got {value!r}")
    if value > MAX_TTL:
        raise AssignmentError(f"{what} of {value!r} s is longer than the maximum {MAX_TTL:.0f} s")
    return max(1, math.ceil(value * 1000))


def check_token(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise AssignmentError(f"token must be an int, got {type(value).__name__}")
    if value < 1:
        raise AssignmentError(f"token must be positive, got {value}")
    return value


def mark_key(kind: str, *parts: str) -> str:
    """An unambiguous key for a mark: a JSON array (no separator can collide)."""
    return json.dumps([kind, *parts], separators=(",", ":"), ensure_ascii=False)
