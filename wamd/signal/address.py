"""The Signal address of a WhatsApp device: one mapping, in one place.

A device JID ``user[:device]@server`` maps to the Signal address (name, device id)
where the name is the user, suffixed ``_<domain>`` for non-WhatsApp domains (LID users
get ``_1``, hosted ``_128``...), as whatsmeow (``SignalAddressUser``) and Baileys
(``jidToSignalProtocolAddress``) both do. As a store id it is written ``name.device``
(Baileys' form, so its stores and ours name sessions alike).
"""

from __future__ import annotations

from wamd.binary.jid import JID

__all__ = ["signal_address"]


def signal_address(jid: JID | str) -> str:
    """``"15551234567.2"`` for ``15551234567:2@s.whatsapp.net``; ``"123_1.0"`` for ``123@lid``."""
    parsed = JID.parse(jid) if isinstance(jid, str) else jid
    domain = parsed.domain
    name = f"{parsed.user}_{domain}" if domain else parsed.user
    return f"{name}.{parsed.device}"
