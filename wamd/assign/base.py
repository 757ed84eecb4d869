"""``AssignmentBackend``: the contract every backend keeps, and the shared front half.

A backend implements a few atomic primitives over its own storage (a dict, one SQLite
transaction, one Redis script); this class checks the caller's input, turns the answers
into ``Claim`` records and builds the rest (``assign`` with a policy, handled marks, bot
send records) on top. Every public method is a coroutine.

Ownership, precisely: each chat has at most one live row in the backend, and every
decision about it (is it free, has it expired, may this caller renew it) is taken inside
one atomic step of the backend, with the backend's one clock — a process never compares
its own clock with another process's. See ``docs/assign.md`` for what that does and does
not promise.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from wamd.assign.errors import AssignmentError
from wamd.assign.types import (
    HANDLED_TTL,
    SENT_TTL,
    Claim,
    Grant,
    check_name,
    check_participant,
    check_token,
    check_ttl,
    mark_key,
)

if TYPE_CHECKING:
    from wamd.assign.policy import Policy

__all__ = ["AssignmentBackend"]


class AssignmentBackend(ABC):
    """A shared chat-assignment registry with handled marks (see the module docstring)."""

    # ------------------------------------------------------------------ primitives

    @abstractmethod
    async def _claim(self, chat: str, handler: str, ttl: int, force: bool) -> Grant | None:
        """Take a free chat, extend our own, or (``force``) take it from its holder."""

    @abstractmethod
    async def _renew(self, chat: str, handler: str, ttl: int, token: int | None) -> Grant | None:
        """Extend a live claim of ``handler`` (matching ``token`` when given)."""

    @abstractmethod
    async def _release(self, chat: str, handler: str, token: int | None) -> bool:
        """Drop a live claim of ``handler`` (matching ``token`` when given)."""

    @abstractmethod
    async def _transfer(
        self, chat: str, to: str, ttl: int, current: str | None, token: int | None
    ) -> Grant | None:
        """Hand a live claim to ``to``; a new token unless ``to`` already holds it."""

    @abstractmethod
    async def _holder(self, chat: str) -> Grant | None:
        """The live claim of ``chat``."""

    @abstractmethod
    async def _chats_of(self, handler: str) -> list[Grant]:
        """Every live claim of ``handler``."""

    async def _load(self, handlers: list[str]) -> dict[str, int]:
        return {h: len(await self._chats_of(h)) for h in handlers}

    @abstractmethod
    async def _mark(self, key: str, value: str, ttl: int) -> bool:
        """Set ``key`` to ``value`` for ``ttl`` ms unless it is set: True when we set it."""

    @abstractmethod
    async def _get_mark(self, key: str) -> str | None:
        """The live value of ``key``."""

    @abstractmethod
    async def _unmark(self, key: str) -> bool:
        """Delete ``key``; True when it was live."""

    async def close(self) -> None:  # noqa: B027 (optional hook, a no-op by default)
        """Release connections and threads; the backend's data stays."""

    async def __aenter__(self) -> AssignmentBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ claims

    async def claim(
        self, chat: str, handler: str, ttl: float, *, force: bool = False
    ) -> Claim | None:
        """Claim ``chat`` for ``handler`` for ``ttl`` seconds.

        Succeeds when the chat is free or its claim has expired (a new token), or when
        ``handler`` already holds it (extended, same token). With ``force`` it also takes
        the chat from another holder (a new token). ``None`` when someone else holds it.
        """
        chat, handler, ttl_ms = _chat(chat), _handler(handler), check_ttl(ttl)
        if not isinstance(force, bool):
            raise AssignmentError(f"force must be a bool, got {type(force).__name__}")
        started = time.monotonic()
        grant = await self._claim(chat, handler, ttl_ms, force)
        return None if grant is None else grant.claim(started)

    async def renew(
        self, chat: str, handler: str, ttl: float, *, token: int | None = None
    ) -> Claim | None:
        """Extend ``handler``'s live claim of ``chat`` to ``ttl`` seconds from now.

        ``None`` when the claim expired or moved (also when ``token`` is given and is no
        longer the chat's token): the caller has lost the chat and must claim it again.
        """
        chat, handler, ttl_ms, tok = (
            _chat(chat),
            _handler(handler),
            check_ttl(ttl),
            check_token(token),
        )
        started = time.monotonic()
        grant = await self._renew(chat, handler, ttl_ms, tok)
        return None if grant is None else grant.claim(started)

    async def release(self, chat: str, handler: str, *, token: int | None = None) -> bool:
        """Give ``chat`` up; ``False`` when ``handler`` (with ``token``) did not hold it."""
        return await self._release(_chat(chat), _handler(handler), check_token(token))

    async def transfer(
        self,
        chat: str,
        to: str,
        ttl: float,
        *,
        current: str | None = None,
        token: int | None = None,
    ) -> Claim | None:
        """Move a held chat to handler ``to`` for ``ttl`` seconds, in one atomic step.

        ``current``/``token`` make it conditional on who holds it now. A free or expired
        chat is not transferred (``None``): use ``claim``.
        """
        chat, to, ttl_ms = _chat(chat), _handler(to), check_ttl(ttl)
        cur = None if current is None else _handler(current)
        tok = check_token(token)
        started = time.monotonic()
        grant = await self._transfer(chat, to, ttl_ms, cur, tok)
        return None if grant is None else grant.claim(started)

    async def holder(self, chat: str) -> Claim | None:
        """Who holds ``chat`` now (``None``: nobody, or the claim expired)."""
        started = time.monotonic()
        grant = await self._holder(_chat(chat))
        return None if grant is None else grant.claim(started)

    async def is_current(self, claim: Claim) -> bool:
        """Whether ``claim`` is still the chat's live claim (same holder and token)."""
        if not isinstance(claim, Claim):
            raise AssignmentError(f"expected a Claim, got {type(claim).__name__}")
        now = await self.holder(claim.chat)
        return now is not None and now.handler == claim.handler and now.token == claim.token

    async def chats_of(self, handler: str) -> list[Claim]:
        """Every chat ``handler`` holds now, sorted by chat."""
        started = time.monotonic()
        grants = await self._chats_of(_handler(handler))
        return sorted((g.claim(started) for g in grants), key=lambda c: c.chat)

    async def load(self, handlers: Iterable[str]) -> dict[str, int]:
        """How many chats each of ``handlers`` holds now."""
        names = _handlers(handlers)
        return await self._load(names) if names else {}

    async def assign(
        self,
        chat: str,
        candidates: Iterable[str],
        ttl: float,
        *,
        policy: Policy | None = None,
    ) -> Claim | None:
        """The chat's holder, or a claim for a candidate the policy picks.

        When ``chat`` is held (by anyone, a candidate or not) that claim is returned
        unchanged. Otherwise ``policy`` (default ``LeastLoaded()``) picks a candidate and
        the chat is claimed for it; if another process won the race its claim is returned.
        ``None`` when the policy finds nobody available.
        """
        from wamd.assign.policy import LeastLoaded

        chat, names = _chat(chat), _handlers(candidates)
        check_ttl(ttl)  # refuse a bad TTL before the policy runs
        chooser = policy if policy is not None else LeastLoaded()
        for _ in range(5):
            current = await self.holder(chat)
            if current is not None:
                return current
            if not names:
                return None
            pick = await chooser.choose(chat, names, self)
            if pick is None:
                return None
            got = await self.claim(chat, pick, ttl)
            if got is not None:
                return got
        return await self.holder(chat)

    # ------------------------------------------------------------------ marks

    async def mark_handled(
        self,
        chat: str,
        participant: str | None,
        message_id: str,
        *,
        by: str,
        ttl: float = HANDLED_TTL,
    ) -> bool:
        """Mark a message handled by ``by`` unless it is marked: True for the first caller.

        The key is the chat, the participant (group sender, or none) and the message id
        together: ids alone are not unique across chats. The mark lives ``ttl`` seconds.
        """
        key = _handled_key(chat, participant, message_id)
        return await self._mark(key, _handler(by), check_ttl(ttl))

    async def handled_by(self, chat: str, participant: str | None, message_id: str) -> str | None:
        """Who marked the message handled (``None``: nobody, or the mark expired)."""
        return await self._get_mark(_handled_key(chat, participant, message_id))

    async def unmark_handled(self, chat: str, participant: str | None, message_id: str) -> bool:
        """Forget a handled mark (so a redelivered message is handled again)."""
        return await self._unmark(_handled_key(chat, participant, message_id))

    async def record_sent(self, message_id: str, *, by: str, ttl: float = SENT_TTL) -> bool:
        """Remember that a bot sends ``message_id`` (before sending it); False if known.

        Keyed by the id alone: the echo of a send names the chat the way the server
        normalises it, which need not be how the caller spelt it, and our ids carry 72
        random-looking bits.
        """
        key = mark_key("sent", check_name(message_id, "message id"))
        return await self._mark(key, _handler(by), check_ttl(ttl))

    async def sent_by(self, message_id: str) -> str | None:
        """Which bot recorded ``message_id`` as its send (``None``: no bot did)."""
        return await self._get_mark(mark_key("sent", check_name(message_id, "message id")))


def _chat(chat: Any) -> str:
    return check_name(chat, "chat")


def _handler(handler: Any) -> str:
    return check_name(handler, "handler")


def _handlers(handlers: Iterable[str]) -> list[str]:
    if isinstance(handlers, str):
        raise AssignmentError("handlers must be a collection of names, not one string")
    names: list[str] = []
    for h in handlers:
        name = _handler(h)
        if name not in names:
            names.append(name)
    return names


def _handled_key(chat: str, participant: str | None, message_id: str) -> str:
    return mark_key(
        "handled",
        _chat(chat),
        check_participant(participant),
        check_name(message_id, "message id"),
    )
