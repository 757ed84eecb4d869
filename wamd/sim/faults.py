"""The sim as a fault injector: what it does wrong on purpose, seeded and scriptable.

``sim.faults`` (a ``Faults``) holds rules, each decided with the sim's seeded generator
(``SimServer(rng=random.Random(seed))`` replays a run, faults included):

- stanzas the sim sends to companions (``direction="out"``): ``drop`` (lost on the
  wire; it stays in the device's outbox and comes again at the next login, as with the
  real server), ``delay`` (sent ``seconds`` later), ``duplicate`` (sent twice),
  ``reorder`` (held back and sent after the next stanza to that device, or after
  ``seconds`` when nothing follows), ``disconnect`` and ``stream-error`` (the connection
  ends instead, the stanza stays queued: random link failures for a soak test);
- stanzas companions send (``direction="in"``): ``drop`` (the sim never sees it: a lost
  receipt or ack stays unacknowledged, a lost ping goes unanswered);
- connections: ``disconnect(device)`` (the link drops, no goodbye), ``stream_error(device,
  code)`` (515 restart, 440 replaced by another connection, 503 unavailable, or any other
  code), ``refuse_logins(count, seconds)`` (logins get ``<failure reason="503">``).

A rule matches by stanza tag (``tags``; empty means any), ``xmlns`` (for iqs, e.g.
``"w:p"`` for pings), and device (``device``: a device JID, or a user for all its
devices); it fires with ``probability`` and at most ``count`` times (``None``: no
limit). ``sim.faults.clear()`` removes every rule. The control interface exposes the same
(``docs/sim.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from wamd.binary import JID, Node
from wamd.errors import ConnectionClosed
from wamd.sim.limits import drop

if TYPE_CHECKING:
    from wamd.sim.state import SimDevice, SimState
    from wamd.transport import NodeConnection

__all__ = ["FAULT_KINDS", "FaultRule", "Faults"]

log = logging.getLogger(__name__)

Kind = Literal["drop", "delay", "duplicate", "reorder", "disconnect", "stream-error"]
Direction = Literal["out", "in"]
FAULT_KINDS: dict[Direction, tuple[Kind, ...]] = {
    "out": ("drop", "delay", "duplicate", "reorder", "disconnect", "stream-error"),
    "in": ("drop",),
}
REORDER_WAIT = 0.5  # seconds a held-back stanza waits for another one before it goes anyway
MAX_DELAY = 600.0  # the longest a rule may delay or hold a stanza (seconds)
STREAM_ERRORS = {
    # whatsmeow connectionevents.go / Baileys: 515 restart, 503 unavailable; 440 is
    # Baileys' code for <conflict type="replaced"/> (connectionReplaced)
    515: lambda: Node("stream:error", {"code": "515"}),
    503: lambda: Node("stream:error", {"code": "503"}),
    440: lambda: Node("stream:error", {}, [Node("conflict", {"type": "replaced"})]),
}


@dataclass
class FaultRule:
    """One fault: what it does, to which stanzas, how often."""

    kind: Kind
    direction: Direction = "out"
    probability: float = 1.0
    tags: frozenset[str] = frozenset()
    xmlns: str | None = None
    device: JID | None = None  # a device (``user:N@...``), or a user (device 0: all devices)
    count: int | None = None  # fires at most this many times (None: no limit)
    seconds: float = 0.0  # delay / reorder wait
    code: int = 515  # the stream:error a "stream-error" rule sends
    id: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.direction not in FAULT_KINDS:
            raise ValueError(f"direction must be 'out' or 'in', not {self.direction!r}")
        if self.kind not in FAULT_KINDS[self.direction]:
            allowed = ", ".join(FAULT_KINDS[self.direction])
            raise ValueError(f"a {self.direction!r} fault is one of {allowed}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if self.count is not None and self.count < 0:
            raise ValueError("count must not be negative")
        if not 0.0 <= self.seconds <= MAX_DELAY:
            raise ValueError(f"seconds must be between 0 and {MAX_DELAY:g}")
        if not 100 <= self.code <= 999:
            raise ValueError("code must be a three-digit number")

    @property
    def spent(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def matches(self, device: SimDevice, node: Node) -> bool:
        if self.spent:
            return False
        if self.tags and node.tag not in self.tags:
            return False
        if self.xmlns is not None and node.attrs.get("xmlns") != self.xmlns:
            return False
        if self.device is not None:
            if self.device.user not in (device.jid.user, device.lid.user):
                return False
            if self.device.device and self.device.device != device.jid.device:
                return False
        return True

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "direction": self.direction,
            "probability": self.probability,
            "tags": sorted(self.tags),
            "xmlns": self.xmlns,
            "device": str(self.device) if self.device is not None else None,
            "count": self.count,
            "seconds": self.seconds,
            "code": self.code,
            "fired": self.fired,
        }


@dataclass
class _Held:
    node: Node
    task: asyncio.Task[None] | None = None


@dataclass
class _Refusal:
    count: int | None
    until: float | None  # monotonic time
    reason: int = 503
    refused: int = 0


class Faults:
    """The fault rules of one sim (``sim.faults``)."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.rules: list[FaultRule] = []
        self.log: list[tuple[str, str, str]] = []  # (fault, tag, device) as they fired
        self._ids = itertools.count(1)
        self._held: dict[int, _Held] = {}  # id(device) -> a stanza held back (reorder)
        self._refusal: _Refusal | None = None
        self._monotonic = time.monotonic

    # ------------------------------------------------------------------ rules

    def add(self, rule: FaultRule) -> FaultRule:
        rule.id = next(self._ids)
        self.rules.append(rule)
        return rule

    def drop(
        self,
        probability: float = 1.0,
        *,
        tags: Iterable[str] = (),
        xmlns: str | None = None,
        device: JID | str | None = None,
        count: int | None = None,
        direction: Direction = "out",
    ) -> FaultRule:
        """Lose stanzas (``direction="in"``: stanzas from clients, e.g. receipts, pings)."""
        return self.add(
            FaultRule("drop", direction, probability, frozenset(tags), xmlns, _jid(device), count)
        )

    def delay(
        self,
        seconds: float,
        probability: float = 1.0,
        *,
        tags: Iterable[str] = (),
        device: JID | str | None = None,
        count: int | None = None,
    ) -> FaultRule:
        return self.add(
            FaultRule(
                "delay", "out", probability, frozenset(tags), None, _jid(device), count, seconds
            )
        )

    def duplicate(
        self,
        probability: float = 1.0,
        *,
        tags: Iterable[str] = (),
        device: JID | str | None = None,
        count: int | None = None,
    ) -> FaultRule:
        return self.add(
            FaultRule("duplicate", "out", probability, frozenset(tags), None, _jid(device), count)
        )

    def reorder(
        self,
        probability: float = 1.0,
        *,
        tags: Iterable[str] = (),
        device: JID | str | None = None,
        count: int | None = None,
        seconds: float = REORDER_WAIT,
    ) -> FaultRule:
        return self.add(
            FaultRule(
                "reorder", "out", probability, frozenset(tags), None, _jid(device), count, seconds
            )
        )

    def disconnects(
        self,
        probability: float,
        *,
        tags: Iterable[str] = (),
        device: JID | str | None = None,
        count: int | None = None,
    ) -> FaultRule:
        """Drop the connection instead of sending a matching stanza (it stays queued)."""
        return self.add(
            FaultRule("disconnect", "out", probability, frozenset(tags), None, _jid(device), count)
        )

    def stream_errors(
        self,
        probability: float,
        code: int = 515,
        *,
        tags: Iterable[str] = (),
        device: JID | str | None = None,
        count: int | None = None,
    ) -> FaultRule:
        """End the connection with ``stream:error code`` instead of a matching stanza."""
        return self.add(
            FaultRule(
                "stream-error",
                "out",
                probability,
                frozenset(tags),
                None,
                _jid(device),
                count,
                code=code,
            )
        )

    def lose_pings(
        self, probability: float = 1.0, *, device: JID | str | None = None, count: int | None = None
    ) -> FaultRule:
        """Pings (``<iq xmlns="w:p">``) from clients go unanswered."""
        return self.drop(
            probability, tags=("iq",), xmlns="w:p", device=device, count=count, direction="in"
        )

    def remove(self, rule_id: int) -> bool:
        before = len(self.rules)
        self.rules = [r for r in self.rules if r.id != rule_id]
        return len(self.rules) != before

    def clear(self) -> None:
        """No more faults: every rule goes, held stanzas are sent, logins are let in."""
        self.rules.clear()
        self._refusal = None
        for key in list(self._held):
            held = self._held.pop(key)
            if held.task is not None:
                held.task.cancel()

    def _decide(self, direction: Direction, device: SimDevice, node: Node) -> FaultRule | None:
        for rule in self.rules:
            if rule.direction != direction or not rule.matches(device, node):
                continue
            if rule.probability < 1.0 and self.state.rng.random() >= rule.probability:
                continue
            rule.fired += 1
            self.log.append((rule.kind, node.tag, str(device.jid)))
            log.debug("fault %s (%s) on <%s> for %s", rule.kind, direction, node.tag, device.jid)
            return rule
        return None

    # ------------------------------------------------------------------ hooks

    def lose_inbound(self, device: SimDevice, node: Node) -> bool:
        """Should the sim act as if ``node`` from ``device`` never arrived?"""
        return bool(self.rules) and self._decide("in", device, node) is not None

    async def send(self, device: SimDevice, conn: NodeConnection, node: Node) -> None:
        """Send ``node`` to a connected device, through the outbound rules."""
        rule = self._decide("out", device, node) if self.rules else None
        key = id(device)
        if rule is None:
            await _send(conn, node)
            await self._release(key, conn)
            return
        if rule.kind == "drop":
            return
        if rule.kind == "disconnect":  # instead of this stanza, which stays in the outbox
            await drop(conn, "dropped by a fault")
            return
        if rule.kind == "stream-error":
            await self._end(conn, rule.code)
            return
        if rule.kind == "duplicate":
            await _send(conn, node)
            await _send(conn, node)
        elif rule.kind == "delay":
            self.state.spawn(self._later(rule.seconds, conn, node), f"a delayed <{node.tag}>")
        elif rule.kind == "reorder":
            await self._release(key, conn)  # one held stanza per device at a time
            held = _Held(node)
            self._held[key] = held
            held.task = asyncio.get_running_loop().create_task(
                self._hold(key, held, rule.seconds, conn)
            )
            self.state.activity.track(held.task, f"a held-back <{node.tag}>")

    async def _release(self, key: int, conn: NodeConnection) -> None:
        held = self._held.pop(key, None)
        if held is None:
            return
        if held.task is not None and held.task is not asyncio.current_task():
            held.task.cancel()
        await _send(conn, held.node)

    async def _hold(self, key: int, held: _Held, seconds: float, conn: NodeConnection) -> None:
        await asyncio.sleep(seconds)
        if self._held.get(key) is held:
            del self._held[key]
            await _send(conn, held.node)

    @staticmethod
    async def _later(seconds: float, conn: NodeConnection, node: Node) -> None:
        await asyncio.sleep(seconds)
        await _send(conn, node)

    # ------------------------------------------------------------------ connections

    async def disconnect(self, device: SimDevice) -> bool:
        """Drop the device's connection without a goodbye (False: it had none)."""
        conn = device.connection
        if conn is None or conn.closed:
            return False
        self.log.append(("disconnect", "", str(device.jid)))
        await drop(conn, "dropped by a fault")
        return True

    async def stream_error(self, device: SimDevice, code: int = 515) -> bool:
        """End the device's connection with ``<stream:error>``: 515, 440, 503 or ``code``."""
        conn = device.connection
        if conn is None or conn.closed:
            return False
        self.log.append((f"stream:error {code}", "", str(device.jid)))
        await self._end(conn, code)
        return True

    @staticmethod
    async def _end(conn: NodeConnection, code: int) -> None:
        make = STREAM_ERRORS.get(code)
        await _send(conn, make() if make is not None else Node("stream:error", {"code": str(code)}))
        await conn.close()

    def refuse_logins(
        self, count: int | None = None, seconds: float | None = None, *, reason: int = 503
    ) -> None:
        """Refuse the next ``count`` logins, or all for ``seconds`` (real time), or both
        (whichever ends first); neither: until ``clear()``."""
        until = self._monotonic() + seconds if seconds is not None else None
        self._refusal = _Refusal(count, until, reason)

    def refuse_login(self) -> int | None:
        """The failure reason for a login now, or None to let it in."""
        refusal = self._refusal
        if refusal is None:
            return None
        expired = refusal.until is not None and self._monotonic() >= refusal.until
        if expired or (refusal.count is not None and refusal.refused >= refusal.count):
            self._refusal = None
            return None
        refusal.refused += 1
        self.log.append(("refuse login", "", ""))
        return refusal.reason


async def _send(conn: NodeConnection, node: Node) -> None:
    if not conn.closed:
        with contextlib.suppress(ConnectionClosed):
            await conn.send(node)


def _jid(value: JID | str | None) -> JID | None:
    if value is None or isinstance(value, JID):
        return value
    return JID.parse(value)
