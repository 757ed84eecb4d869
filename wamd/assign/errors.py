"""Errors of the assignment layer (all are ``WamdError``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wamd.errors import WamdError

if TYPE_CHECKING:
    from wamd.assign.types import Claim

__all__ = ["AssignmentError", "BackendError", "ChatHeld"]


class AssignmentError(WamdError):
    """Bad input to the assignment layer (an empty chat, a negative TTL ...), or its base."""


class BackendError(AssignmentError):
    """The shared backend failed: the SQLite file, the Redis server, a missing client."""


class ChatHeld(AssignmentError):
    """A send was refused: the chat is held by another handler (an admin took it over)."""

    def __init__(self, claim: Claim) -> None:
        self.claim = claim
        super().__init__(f"chat {claim.chat} is held by {claim.handler!r} (token {claim.token})")
