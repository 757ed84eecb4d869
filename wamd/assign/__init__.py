"""Multi-admin desks: chat assignment, exactly-once replies and human takeover.

One WhatsApp number is often shared by a bot (one or several processes) and human admins
on their own linked devices. This package coordinates them through a shared backend:

- a chat assignment registry with time-to-live claims and fencing tokens
  (``claim``/``renew``/``release``/``transfer``/``holder``/``chats_of``/``assign``);
- "handled" marks (set-if-absent on chat + participant + message id) so the first of
  several consumers wins;
- ``Desk``: ``@desk.once`` for ``messages.upsert`` handlers, sends recorded before they go
  out, and automatic human takeover when an admin writes from another device.

Backends: ``MemoryAssignments`` (one process), ``SQLiteAssignments`` (processes on one
machine), ``RedisAssignments`` (several machines; ``pip install 'wamd[redis]'``).
See ``docs/assign.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wamd.assign.base import AssignmentBackend
from wamd.assign.desk import DEFAULT_TAKEOVER_TTL, Desk, DeskSocket, is_admin_reply
from wamd.assign.errors import AssignmentError, BackendError, ChatHeld
from wamd.assign.memory import MemoryAssignments
from wamd.assign.policy import LeastLoaded, Policy, RoundRobin
from wamd.assign.sqlite import SQLiteAssignments
from wamd.assign.types import HANDLED_TTL, MAX_TTL, SENT_TTL, Claim

if TYPE_CHECKING:
    from wamd.assign.redis import RedisAssignments

__all__ = [
    "DEFAULT_TAKEOVER_TTL",
    "HANDLED_TTL",
    "MAX_TTL",
    "SENT_TTL",
    "AssignmentBackend",
    "AssignmentError",
    "BackendError",
    "ChatHeld",
    "Claim",
    "Desk",
    "DeskSocket",
    "LeastLoaded",
    "MemoryAssignments",
    "Policy",
    "RedisAssignments",
    "RoundRobin",
    "SQLiteAssignments",
    "is_admin_reply",
]


def __getattr__(name: str) -> Any:
    # RedisAssignments is imported on first use, so ``import wamd.assign`` never needs redis
    if name == "RedisAssignments":
        from wamd.assign.redis import RedisAssignments

        return RedisAssignments
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
