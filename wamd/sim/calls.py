"""Calls on the sim: a phone rings an account, its devices may reject the call.

The signalling, as whatsmeow ``call.go`` reads and writes it (Baileys
``messages-recv.ts`` handleCall / rejectCall agree):

- an offer reaches every device of the callee as ``<call from=CALLER_DEVICE id t
  notify platform version><offer call-id call-creator=CALLER [caller_lid]><audio enc
  rate/>..[<video/>]</offer></call>``; each device acks it (``<ack class="call" id>``);
- a device rejects with ``<call id from=OWN_USER to=CALLER><reject call-id
  call-creator=CALLER count="0"/></call>`` (whatsmeow RejectCall; Baileys sends the same
  as a query); the server acks it (``<ack class="call" id>``), the caller's devices get
  the ``<reject>``, the callee's other devices a ``<terminate reason="rejected_elsewhere">``
  (what the phones show as "declined on another device");
- the caller hangs up: ``<terminate call-id call-creator reason="timeout">`` to the
  callee's devices.

No media flows (the sim has no relays): a call is offered and ended, never answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wamd.binary import JID, Node
from wamd.binary.jid import InvalidJID
from wamd.sim import rand

if TYPE_CHECKING:
    from wamd.sim.account import SimPhone
    from wamd.sim.router import Router
    from wamd.sim.state import SimDevice, SimState

__all__ = ["CALL_PLATFORM", "CALL_VERSION", "Calls", "SimCall"]

CALL_PLATFORM = "android"  # what an offer's platform attribute names
CALL_VERSION = "2.25.1.75"  # and its version


@dataclass
class SimCall:
    id: str
    caller: SimPhone
    callee: SimPhone
    video: bool
    status: str = "ringing"  # "rejected" (by a device: rejected_by), "ended"
    rejected_by: list[str] = field(default_factory=list)  # device JIDs


class Calls:
    def __init__(self, state: SimState, router: Router) -> None:
        self.state = state
        self.router = router
        self.calls: dict[str, SimCall] = {}

    def _signal(self, caller: SimPhone, kind: str, call: SimCall, **attrs: str) -> Node:
        child = Node(
            kind,
            {"call-id": call.id, "call-creator": str(call.caller.jid)} | attrs,
            [
                Node("audio", {"enc": "opus", "rate": "16000"}),
                Node("audio", {"enc": "opus", "rate": "8000"}),
                *([Node("video", {"enc": "vp8", "dec": "vp8"})] if call.video else []),
            ]
            if kind == "offer"
            else None,
        )
        top = {
            "from": str(caller.primary.jid),
            "id": rand.stanza_id(self.state.rng),
            "t": str(self.state.now()),
        }
        if kind == "offer":
            top |= {"notify": caller.name, "platform": CALL_PLATFORM, "version": CALL_VERSION}
        return Node("call", top, [child])

    async def ring(self, caller: SimPhone, callee: SimPhone, *, video: bool = False) -> SimCall:
        call = SimCall(rand.message_id(self.state.rng), caller, callee, video)
        self.calls[call.id] = call
        offer = self._signal(caller, "offer", call, caller_lid=str(caller.lid))
        for device in callee.devices():
            if device is not callee.primary:  # the callee's phone is not scripted to answer
                await self.router.deliver(device, offer)
        return call

    async def hang_up(self, call: SimCall, reason: str = "timeout") -> None:
        if call.status != "ringing":
            return
        call.status = "ended"
        end = self._signal(call.caller, "terminate", call, reason=reason)
        for device in call.callee.devices():
            if device is not call.callee.primary:
                await self.router.deliver(device, end)

    async def on_call(self, device: SimDevice, node: Node) -> None:
        """A ``<call>`` from a device: acked; a ``<reject>`` of a ringing call ends it."""
        children = node.get_children()
        ack = {"class": "call", "id": node.attrs.get("id", ""), "from": node.attrs.get("to", "")}
        if len(children) == 1:
            ack["type"] = children[0].tag
        await self.router.deliver(device, Node("ack", ack), queue=False)
        if len(children) != 1 or children[0].tag != "reject":
            return
        reject = children[0]
        call = self.calls.get(reject.attrs.get("call-id", ""))
        try:
            to = JID.parse(node.attrs.get("to", ""))
        except InvalidJID:
            return
        if call is None or call.callee is not device.phone or call.status != "ringing":
            return  # a stale or foreign call: nothing rings any more
        if self.state.account_of(to) is not call.caller:
            return
        call.status = "rejected"
        call.rejected_by.append(str(device.jid))
        answer = Node(
            "call",
            {"from": str(device.jid), "id": node.attrs.get("id", ""), "t": str(self.state.now())},
            [
                Node(
                    "reject",
                    {"call-id": call.id, "call-creator": str(call.caller.jid), "count": "0"},
                )
            ],
        )
        for target in call.caller.devices():
            if target is not call.caller.primary:
                await self.router.deliver(target, answer)
        elsewhere = self._signal(call.caller, "terminate", call, reason="rejected_elsewhere")
        for other in call.callee.devices():
            if other is not device and other is not call.callee.primary:
                await self.router.deliver(other, elsewhere)
