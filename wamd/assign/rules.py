"""The ownership rules as pure decisions over one row, shared by memory and SQLite.

A row is ``(handler, token, expires_at)`` in the backend's clock (milliseconds). Every
decision first drops a row whose ``expires_at`` is not after ``now``: an expired claim is
never honoured, not even for a renewal by its old holder. The Redis backend implements the
same rules in its Lua scripts (``wamd/assign/redis.py``); the contract tests hold all three
to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Decision", "Row", "claim", "live", "release", "renew", "transfer"]


@dataclass(frozen=True, slots=True)
class Row:
    handler: str
    token: int
    expires_at: int  # ms, backend clock


@dataclass(frozen=True, slots=True)
class Decision:
    ok: bool
    row: Row | None  # the chat's live row after the operation (None: free)
    write: bool = False  # the row must be written (or deleted when ``row`` is None)
    fresh: bool = False  # a new tenure began: ``row.token`` was just issued


def live(row: Row | None, now: int) -> Row | None:
    return row if row is not None and row.expires_at > now else None


def claim(
    row: Row | None, now: int, handler: str, ttl: int, force: bool, new_token: Callable[[], int]
) -> Decision:
    """Take a free chat, extend our own, or (``force``) take it from its holder."""
    cur = live(row, now)
    if cur is not None and cur.handler == handler:
        return Decision(True, Row(handler, cur.token, now + ttl), write=True)
    if cur is not None and not force:
        return Decision(False, cur)
    return Decision(True, Row(handler, new_token(), now + ttl), write=True, fresh=True)


def _matches(cur: Row | None, handler: str | None, token: int | None) -> bool:
    return (
        cur is not None
        and (handler is None or cur.handler == handler)
        and (token is None or cur.token == token)
    )


def renew(row: Row | None, now: int, handler: str, token: int | None, ttl: int) -> Decision:
    """Extend a live claim of ``handler`` (with ``token``, when given); never revive one."""
    cur = live(row, now)
    if cur is None or not _matches(cur, handler, token):
        return Decision(False, cur)
    return Decision(True, Row(handler, cur.token, now + ttl), write=True)


def release(row: Row | None, now: int, handler: str, token: int | None) -> Decision:
    cur = live(row, now)
    if cur is None or not _matches(cur, handler, token):
        return Decision(False, cur)
    return Decision(True, None, write=True)


def transfer(
    row: Row | None,
    now: int,
    to: str,
    ttl: int,
    current: str | None,
    token: int | None,
    new_token: Callable[[], int],
) -> Decision:
    """Hand a live claim to ``to`` (from ``current`` / with ``token`` when given)."""
    cur = live(row, now)
    if cur is None or not _matches(cur, current, token):
        return Decision(False, cur)
    if cur.handler == to:
        return Decision(True, Row(to, cur.token, now + ttl), write=True)
    return Decision(True, Row(to, new_token(), now + ttl), write=True, fresh=True)
