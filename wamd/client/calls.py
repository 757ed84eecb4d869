"""Rejecting calls: ``sock.reject_call(call)``, and the support-desk option that rejects
every call and answers it with a text.

whatsmeow ``call.go`` RejectCall sends, as a plain node, ``<call id from=OWN_USER
to=CALLER><reject call-id=ID call-creator=CALLER count="0"/></call>`` (own and caller
JIDs without device); Baileys ``messages-recv.ts`` rejectCall sends the same as a query
and waits for the server's ``<ack class="call">``. wamd sends it as whatsmeow does (the
ack is not needed to know the call was rejected: the caller's devices hear the
``<reject>``).

``make_wa_socket(reject_calls=True, call_reject_message="...")`` rejects each incoming
``offer`` once (a redelivered offer is not rejected twice) and, with a message, sends it
to the caller as a text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wamd.binary import JID, Node
from wamd.binary.jid import InvalidJID
from wamd.errors import ConnectionClosed, WamdError
from wamd.messaging.core import new_message_id
from wamd.messaging.types import CallEvent

if TYPE_CHECKING:
    from wamd.client.core import ClientCore
    from wamd.client.send import Sender

__all__ = ["CallDesk", "reject_node"]

REJECTED_MEMORY = 1000  # call ids remembered as rejected (a redelivered offer is not again)


def reject_node(own: JID, caller: JID, call_id: str, stanza_id: str) -> Node:
    """The ``<call><reject/></call>`` that declines ``call_id`` from ``caller``."""
    caller = caller.to_non_ad()
    reject = Node("reject", {"call-id": call_id, "call-creator": str(caller), "count": "0"})
    attrs = {"id": stanza_id, "from": str(own.to_non_ad()), "to": str(caller)}
    return Node("call", attrs, [reject])


class CallDesk:
    def __init__(self, core: ClientCore, sender: Sender) -> None:
        self.core = core
        self.sender = sender
        self.log = core.logger_for(__name__)
        self._rejected: dict[str, None] = {}

    async def reject(self, call: CallEvent | str, caller: str | None = None) -> None:
        """Reject ``call`` (a ``CallEvent``, or its id with the ``caller``'s JID)."""
        who: str | None
        if isinstance(call, CallEvent):
            call_id, who = call.call_id, caller or call.creator or call.chat_id
        elif isinstance(call, str):
            call_id, who = call, caller
        else:
            raise ValueError(
                f"reject_call takes a CallEvent or a call id, not {type(call).__name__}"
            )
        if not call_id:
            raise ValueError("a call to reject needs its call id")
        if not who:
            raise ValueError("a call to reject needs its caller's jid")
        try:
            caller_jid = JID.parse(who)
        except InvalidJID as exc:
            raise ValueError(f"not a caller jid: {exc}") from None
        own = self.core.require_own()
        await self.core.send_node(
            reject_node(own.pn, caller_jid, call_id, new_message_id(own.pn.user))
        )
        self._rejected[call_id] = None
        while len(self._rejected) > REJECTED_MEMORY:
            del self._rejected[next(iter(self._rejected))]

    async def on_call(self, event: CallEvent) -> None:
        """An incoming call signal: with ``reject_calls``, a new offer is rejected."""
        options = self.core.options
        if not options.reject_calls or event.status != "offer":
            return
        if event.call_id in self._rejected or not event.creator:
            return
        try:
            await self.reject(event)
            if options.call_reject_message:
                caller = JID.parse(event.creator).to_non_ad()
                await self.sender.send_message(caller, {"text": options.call_reject_message})
        except (ConnectionClosed, WamdError, ValueError) as exc:
            self.log.warning("could not reject call %s: %s", event.call_id, exc)
