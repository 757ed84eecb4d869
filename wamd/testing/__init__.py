"""``wamd.testing``: test your bot against ``wamd.sim``, a WhatsApp server on 127.0.0.1.

A test starts a sim, adds accounts (each with its simulated phone), links a socket to one
of them and drives the others::

    from wamd.testing import Inbox, link, settle, sim_server

    async def test_the_bot_answers_alice() -> None:
        async with sim_server() as sim:
            bot_phone = sim.add_phone("15550001111", "Bot")
            alice = sim.add_phone("15550002222", "Alice")
            sock = await link(sim, bot_phone)  # paired by QR, logged in, open
            inbox = Inbox(sock)
            await alice.send_text(bot_phone.jid, "hi")
            assert (await inbox.next()).text == "hi"
            await settle(sim, sock)  # everything in flight has been handled
            inbox.assert_empty()  # ... and nothing else arrived
            await sock.end()

What is here (``docs/testing.md`` has the whole tour):

- ``sim_server()``, ``link()``, ``linked()``, ``socket_for()``, ``new_auth_state()``: a sim
  on loopback and sockets for it (``wamd.testing.linking``);
- ``Inbox``: what a socket emits, with ``next()`` / ``wait_for()`` that fail with
  ``NothingArrived`` naming what did arrive (``wamd.testing.inbox``);
- ``wait_received()``: the first message a sim phone got that matches (``wamd.testing.phones``);
- ``settle()``: wait until nothing is in flight in the sim and the sockets, so that
  "nothing more arrives" is an assertion, not a sleep;
- ``record_sends()`` / ``spy()``: the nodes a socket sends (``wamd.testing.record``);
- ``RawCompanion`` / ``pair_companion()``: a linked device without ``WASocket``, every
  stanza by hand (``wamd.testing.raw``);
- ``ControlClient``: a sim in another process (``wamd sim --control-port N``), driven
  through its HTTP control interface (``wamd.testing.control``).

Every wait has a generous upper bound (``WAIT``, ``LINK_WAIT``): it is there so that a broken
test fails with a message instead of hanging, never to check speed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wamd.testing.control import ControlClient
from wamd.testing.inbox import WAIT, Arrival, Inbox, NothingArrived, UnexpectedArrival
from wamd.testing.linking import (
    LINK_WAIT,
    LOOPBACK,
    link,
    linked,
    new_auth_state,
    sim_server,
    socket_for,
)
from wamd.testing.phones import wait_received
from wamd.testing.raw import Login, RawCompanion, open_raw, pair_companion, registration
from wamd.testing.record import Recording, record_sends, spy

if TYPE_CHECKING:
    from wamd.client import WASocket
    from wamd.sim import SimServer

__all__ = [
    "LINK_WAIT",
    "LOOPBACK",
    "SETTLE_WAIT",
    "WAIT",
    "Arrival",
    "ControlClient",
    "Inbox",
    "Login",
    "NothingArrived",
    "RawCompanion",
    "Recording",
    "UnexpectedArrival",
    "link",
    "linked",
    "new_auth_state",
    "open_raw",
    "pair_companion",
    "record_sends",
    "registration",
    "settle",
    "sim_server",
    "socket_for",
    "spy",
    "wait_received",
]

SETTLE_WAIT = 30.0  # seconds settle() may take before it says what is still running


async def settle(
    sim: SimServer,
    *socks: WASocket,
    rounds: int = 2,
    acked: bool = True,
    timeout: float = SETTLE_WAIT,
) -> None:
    """Return once nothing is in flight: in the sim, and in each of ``socks``.

    One round: the sim settles (no stanza being handled, every phone's queue worked
    through, every stanza it delivered acknowledged by the clients it went to), then each
    socket is idle (every stanza it received handled, every event handler run). What a
    handler sends in answer (a bot's reply, a receipt) starts the next round; ``rounds``
    bounds how many answers to answers are waited for. Afterwards an arrival that has
    not come will not come: ``inbox.assert_empty()``, ``len(phone.received) == before``.

    ``acked=False`` when a connected device never acknowledges (a ``RawCompanion``
    without ``auto_ack``): the sim then waits until it has written what it meant to send.
    ``TimeoutError`` (from the sim, naming what still runs) after ``timeout`` seconds.
    """
    for _ in range(rounds):
        await sim.settle(timeout, acked=acked)
        for sock in socks:
            await sock.idle()
    await sim.settle(timeout, acked=acked)
