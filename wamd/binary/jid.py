"""JIDs: WhatsApp's addresses for users, devices, groups, broadcasts and newsletters.

Text forms (whatsmeow ``types/jid.go``; Baileys ``jid-utils.ts`` agrees except for agents,
which it writes ``user_agent:device`` — wamd follows whatsmeow, ``user.agent:device``):

- ``15551234567@s.whatsapp.net``      a user (phone-number addressing)
- ``15551234567:3@s.whatsapp.net``    that user's device 3 (0 is the primary phone)
- ``123456789012345@lid``             a user by LID (the hidden identifier)
- ``123456789012345:2@lid``           a LID device
- ``120363000000000000@g.us``         a group
- ``status@broadcast``                status updates; ``<id>@broadcast`` a broadcast list
- ``123@newsletter``                  a channel
- ``s.whatsapp.net``                  the server itself (no user part)

On the wire a device JID is an ``AD_JID`` carrying a *domain type* byte: 0 for
s.whatsapp.net, 1 for lid, 128 for hosted, 129 for hosted.lid.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from wamd.errors import DecodeError

__all__ = [
    "BOT_SERVER",
    "BROADCAST_SERVER",
    "DEFAULT_USER_SERVER",
    "GROUP_SERVER",
    "HIDDEN_USER_SERVER",
    "HOSTED_LID_SERVER",
    "HOSTED_SERVER",
    "INTEROP_SERVER",
    "JID",
    "LEGACY_USER_SERVER",
    "MESSENGER_SERVER",
    "NEWSLETTER_SERVER",
    "SERVER_JID",
    "STATUS_BROADCAST_JID",
    "InvalidJID",
]

DEFAULT_USER_SERVER: Final = "s.whatsapp.net"  # phone-number users and the server itself
GROUP_SERVER: Final = "g.us"  # groups
LEGACY_USER_SERVER: Final = "c.us"  # pre-multi-device user server, still seen in old data
BROADCAST_SERVER: Final = "broadcast"  # status@broadcast and broadcast lists
HIDDEN_USER_SERVER: Final = "lid"  # LID users
MESSENGER_SERVER: Final = "msgr"  # Messenger interop users (FB_JID on the wire)
INTEROP_SERVER: Final = "interop"  # interop users (INTEROP_JID on the wire)
NEWSLETTER_SERVER: Final = "newsletter"  # channels
HOSTED_SERVER: Final = "hosted"  # hosted (Cloud API) devices
HOSTED_LID_SERVER: Final = "hosted.lid"  # hosted devices by LID
BOT_SERVER: Final = "bot"  # Meta AI and other bots

# Domain type byte of an AD_JID, by server.
DOMAIN_WHATSAPP: Final = 0
DOMAIN_LID: Final = 1
DOMAIN_HOSTED: Final = 128
DOMAIN_HOSTED_LID: Final = 129
_DOMAIN_BY_SERVER: Final = {
    DEFAULT_USER_SERVER: DOMAIN_WHATSAPP,
    HIDDEN_USER_SERVER: DOMAIN_LID,
    HOSTED_SERVER: DOMAIN_HOSTED,
    HOSTED_LID_SERVER: DOMAIN_HOSTED_LID,
}
_SERVER_BY_DOMAIN: Final = {v: k for k, v in _DOMAIN_BY_SERVER.items()}


class InvalidJID(DecodeError):
    """A string that is not a well-formed JID."""


@dataclass(frozen=True, slots=True)
class JID:
    """A parsed JID. Compare and hash by value; ``str()`` gives the canonical text."""

    user: str
    server: str
    device: int = 0
    agent: int = 0  # raw agent of a user JID (rare; 0 almost always)
    integrator: int = 0  # interop JIDs only

    @staticmethod
    def parse(text: str) -> JID:
        """Parse a JID's text form; raises ``InvalidJID`` naming what is wrong."""
        return _parse(text)

    @classmethod
    def from_ad(cls, user: str, domain: int, device: int) -> JID:
        """The JID an ``AD_JID`` (user, domain type, device) stands for."""
        server = _SERVER_BY_DOMAIN.get(domain)
        if server is None:  # unknown domain: a raw agent on a phone-number user (whatsmeow)
            return cls(user, DEFAULT_USER_SERVER, device, agent=domain)
        return cls(user, server, device)

    @property
    def domain(self) -> int:
        """The AD_JID domain type byte for this JID's server."""
        return _DOMAIN_BY_SERVER.get(self.server, self.agent)

    @property
    def is_user(self) -> bool:
        return self.server in (DEFAULT_USER_SERVER, HIDDEN_USER_SERVER, LEGACY_USER_SERVER)

    @property
    def is_lid(self) -> bool:
        return self.server in (HIDDEN_USER_SERVER, HOSTED_LID_SERVER)

    @property
    def is_group(self) -> bool:
        return self.server == GROUP_SERVER

    @property
    def is_broadcast(self) -> bool:
        return self.server == BROADCAST_SERVER

    @property
    def is_status_broadcast(self) -> bool:
        return self.server == BROADCAST_SERVER and self.user == "status"

    @property
    def is_newsletter(self) -> bool:
        return self.server == NEWSLETTER_SERVER

    @property
    def is_server(self) -> bool:
        return not self.user

    @property
    def user_jid(self) -> JID:
        """The same user without the device (``to_non_ad``)."""
        return self.to_non_ad()

    def to_non_ad(self) -> JID:
        if not self.device and not self.agent:
            return self
        return JID(self.user, self.server, integrator=self.integrator)

    def with_device(self, device: int) -> JID:
        return JID(self.user, self.server, device, self.agent, self.integrator)

    def __str__(self) -> str:
        if not self.server:
            return ""
        if self.agent:
            return f"{self.user}.{self.agent}:{self.device}@{self.server}"
        if self.device:
            return f"{self.user}:{self.device}@{self.server}"
        if self.user:
            return f"{self.user}@{self.server}"
        return self.server


SERVER_JID: Final = JID("", DEFAULT_USER_SERVER)  # "s.whatsapp.net": the server as a party
STATUS_BROADCAST_JID: Final = JID("status", BROADCAST_SERVER)


def _number(text: str, what: str, full: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise InvalidJID(f"JID {full[:64]!r}: {what} {text[:16]!r} is not a number")
    value = int(text)
    if value > 0xFFFF:
        raise InvalidJID(f"JID {full[:64]!r}: {what} {value} is out of range")
    return value


@lru_cache(maxsize=4096)
def _parse(text: str) -> JID:
    if not isinstance(text, str):
        raise InvalidJID(f"a JID is a string, got {type(text).__name__}")
    user, at, server = text.partition("@")
    if not at:
        if not text or ":" in text:
            raise InvalidJID(f"JID {text[:64]!r} has no server")
        return JID("", text)
    if not server or "@" in server:
        raise InvalidJID(f"JID {text[:64]!r} has a malformed server part")
    agent = device = 0
    if "." in user:
        user, _, ad = user.partition(".")
        if "." in ad:
            raise InvalidJID(f"JID {text[:64]!r} has too many dots")
        agent_text, colon, device_text = ad.partition(":")
        agent = _number(agent_text, "agent", text)
        if agent > 0xFF:
            raise InvalidJID(f"JID {text[:64]!r}: agent out of range")
        if colon:
            device = _number(device_text, "device", text)
    elif ":" in user:
        user, _, device_text = user.partition(":")
        device = _number(device_text, "device", text)
    if ":" in user:
        raise InvalidJID(f"JID {text[:64]!r} has too many colons")
    return JID(user, server, device, agent)
