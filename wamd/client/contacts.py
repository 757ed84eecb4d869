"""Push names: ours (announced with presence) and our contacts' (``contacts.update``).

Every stanza a user sends carries their push name in ``notify`` (the name they chose in
their profile). Baileys emits ``contacts.update`` with ``{id, notify}`` for each message
that has one (``chats.ts`` upsertMessage); wamd emits it when a user's name is new to this
socket or has changed, so a busy chat does not repeat the same name for every message.

Our own name is what ``<presence type="available" name=...>`` announces, and both
references refuse to send presence without one (whatsmeow ``presence.go`` SendPresence
returns ErrNoPushName; Baileys ``chats.ts`` sendPresenceUpdate logs and returns). It
comes from, in order of precedence:

- ``set_push_name(name)`` or the socket's ``push_name=`` option;
- the app state's ``setting_pushName`` (whatsmeow ``appstate.go``; Baileys
  ``chat-utils.ts``), once app-state sync exists in wamd;
- the ``notify`` attribute of a message from one of our own devices, as Baileys takes it
  (whatsmeow reads its own name only from the app state): only when no name is known.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wamd.binary import JID
from wamd.messaging.types import Contact
from wamd.store.creds import Me

if TYPE_CHECKING:
    from wamd.client.core import ClientCore

__all__ = ["MAX_PUSH_NAME", "NAMES_MEMORY", "PushNames", "check_push_name"]

NAMES_MEMORY = 10_000  # contacts whose last push name is remembered (oldest forgotten)
MAX_PUSH_NAME = 25  # characters WhatsApp's profile name field accepts


def check_push_name(name: str) -> str:
    """``name`` stripped, or ``ValueError`` saying what is wrong with it."""
    if not isinstance(name, str):
        raise ValueError(f"a push name is a str, not {type(name).__name__}")
    stripped = name.strip()
    if not stripped:
        raise ValueError("a push name cannot be empty")
    if len(stripped) > MAX_PUSH_NAME:
        raise ValueError(f"a push name has at most {MAX_PUSH_NAME} characters ({len(stripped)})")
    return stripped


class PushNames:
    """The push names a socket has seen, and its own."""

    def __init__(self, core: ClientCore) -> None:
        self.core = core
        self._names: dict[str, str] = {}  # user JID -> last push name seen

    def seen(self, sender: JID, notify: str | None, *, from_me: bool) -> None:
        """A stanza from ``sender`` named its push name ``notify``."""
        if not notify:
            return
        if from_me:
            me = self.core.auth.creds.me
            if me is not None and not me.name:
                self.core.change_creds({"me": Me(me.id, me.lid, notify)})
            return
        user = str(sender.to_non_ad())
        if self._names.get(user) == notify:
            return
        self._names.pop(user, None)
        self._names[user] = notify  # newest last
        while len(self._names) > NAMES_MEMORY:
            del self._names[next(iter(self._names))]
        self.core.ev.emit("contacts.update", [Contact(id=user, notify=notify)])

    def set_own(self, name: str) -> bool:
        """Make ``name`` our push name; ``True`` when it changed."""
        me = self.core.auth.creds.me
        if me is None or me.name == name:
            return False
        self.core.change_creds({"me": Me(me.id, me.lid, name)})
        return True
