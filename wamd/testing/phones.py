"""Waiting on what a sim phone receives (the other side of a bot's conversation)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from wamd.sim import SimPhone
from wamd.sim.phone import SimMessage
from wamd.testing.inbox import WAIT, NothingArrived

__all__ = ["wait_received"]


async def wait_received(
    phone: SimPhone,
    predicate: Callable[[SimMessage], bool] = lambda message: True,
    *,
    timeout: float = WAIT,
) -> SimMessage:
    """The first message ``phone`` received, so far or from now on, matching ``predicate``.

    It consumes nothing (``phone.next_message()`` still sees it); any number of waits may
    watch one phone. ``NothingArrived`` when none comes within ``timeout`` seconds.
    """
    seen = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                received = phone.received
                for message in received[seen:]:
                    if predicate(message):
                        return message
                seen = len(received)
                await phone.endpoint.wait_received(seen, timeout)
    except TimeoutError:
        texts = [repr((m.text or "")[:40]) for m in phone.received[-5:]]
        raise NothingArrived(
            f"no matching message reached {phone.name}'s phone within {timeout:g} s "
            f"({len(phone.received)} received; the last: {', '.join(texts) or 'none'})"
        ) from None
