"""Number lookup: which phone numbers are on WhatsApp (``sock.on_whatsapp``).

whatsmeow ``user.go`` IsOnWhatsApp sends a usync query ``mode="query"
context="interactive"`` whose users are ``<user><contact>+NUMBER@c.us</contact></user>``
and whose protocols are ``<contact addressing_mode="lid"/><business><verified_name/>
</business><disappearing_mode/><username/>``. Each answered ``<user>`` names the
account by ``jid`` (its LID, when the server answers in lid addressing) and ``pn_jid``
(its phone number); ``<contact type="in"|"out">`` says whether the number is on WhatsApp
and echoes the query. The LID ↔ number pairs are stored as mappings (whatsmeow
PutManyLIDMappings). Baileys (``socket.ts`` onWhatsApp) writes ``<contact>+NUMBER``
without ``@c.us`` and asks only for the ``contact`` protocol; wamd sends whatsmeow's form.

A ``<business>`` with a ``<verified_name>`` child marks a business account; its content
is a ``VerifiedNameCertificate`` whose details hold the verified name.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from google.protobuf.message import DecodeError as ProtobufDecodeError

from wamd.binary import JID, Node
from wamd.binary.jid import DEFAULT_USER_SERVER, HIDDEN_USER_SERVER, InvalidJID
from wamd.errors import InvalidPhoneNumber, ProtocolError
from wamd.proto import vname_cert_pb2

if TYPE_CHECKING:
    from wamd.client.core import ClientCore
    from wamd.client.devices import DeviceDirectory

__all__ = ["LOOKUP_BATCH", "OnWhatsApp", "UserLookup", "normalise_number"]

log = logging.getLogger(__name__)

LOOKUP_BATCH = 500  # numbers per usync query (the device lists' batch)
LEGACY_USER_SERVER = "c.us"  # the server of a <contact> query (whatsmeow LegacyUserServer)
_SEPARATORS = re.compile(r"[\s\-().]")


@dataclass(frozen=True, slots=True)
class OnWhatsApp:
    """What a lookup found for one number."""

    query: str  # the number as given
    exists: bool  # the number has a WhatsApp account
    jid: str  # its phone-number JID (``15551234567@s.whatsapp.net``)
    lid: str | None = None  # its LID (``...@lid``), when the server named it
    is_business: bool = False
    verified_name: str | None = None  # a business account's verified name


def normalise_number(number: str) -> str:
    """The digits of a phone number in international form (``+1 555-123 4567`` or
    ``15551234567@s.whatsapp.net`` give ``15551234567``); ``InvalidPhoneNumber`` else."""
    if not isinstance(number, str):
        raise InvalidPhoneNumber(f"a phone number is a str, not {type(number).__name__}")
    text = number.strip()
    if text.endswith("@" + DEFAULT_USER_SERVER) or text.endswith("@" + LEGACY_USER_SERVER):
        text = text.split("@", 1)[0]
    digits = _SEPARATORS.sub("", text).removeprefix("+")
    if not digits.isdigit() or not digits.isascii() or not 5 <= len(digits) <= 15:
        raise InvalidPhoneNumber(
            f"{number!r} is not a phone number in international form "
            "(country code and number, 5 to 15 digits, e.g. +15551234567)"
        )
    return digits


def _verified_name(business: Node | None) -> tuple[bool, str | None]:
    if business is None:
        return False, None
    verified = business.get_child("verified_name")
    if verified is None:
        return False, None
    raw = verified.content_bytes()
    if not raw:
        return True, None
    try:
        cert = vname_cert_pb2.VerifiedNameCertificate.FromString(raw)
        details = vname_cert_pb2.VerifiedNameCertificate.Details.FromString(cert.details)
    except ProtobufDecodeError:
        log.warning("a usync answer has an unreadable verified name certificate")
        return True, None
    return True, details.verifiedName or None


class UserLookup:
    """``on_whatsapp``: usync ``contact`` queries, the LIDs they name stored as mappings."""

    def __init__(self, core: ClientCore, devices: DeviceDirectory) -> None:
        self.core = core
        self.devices = devices

    async def on_whatsapp(self, numbers: Sequence[str]) -> list[OnWhatsApp]:
        """One result per distinct number, in the order given."""
        self.core.require_own()
        wanted: dict[str, str] = {}  # digits -> the number as given (first spelling)
        for number in numbers:
            wanted.setdefault(normalise_number(number), number)
        found: dict[str, OnWhatsApp] = {}
        digits = list(wanted)
        for start in range(0, len(digits), LOOKUP_BATCH):
            batch = digits[start : start + LOOKUP_BATCH]
            found.update(await self._query({d: wanted[d] for d in batch}))
        return [
            found.get(d) or OnWhatsApp(wanted[d], False, f"{d}@{DEFAULT_USER_SERVER}")
            for d in digits
        ]

    async def _query(self, batch: dict[str, str]) -> dict[str, OnWhatsApp]:
        users = [
            Node("user", {}, [Node("contact", {}, f"+{d}@{LEGACY_USER_SERVER}".encode())])
            for d in batch
        ]
        protocols = [
            Node("contact", {"addressing_mode": "lid"}),
            Node("business", {}, [Node("verified_name")]),
            Node("disappearing_mode"),
            Node("username"),
        ]
        request = Node(
            "iq",
            {"to": DEFAULT_USER_SERVER, "type": "get", "xmlns": "usync"},
            [
                Node(
                    "usync",
                    {
                        "sid": self.core.new_sid(),
                        "mode": "query",
                        "last": "true",
                        "index": "0",
                        "context": "interactive",
                    },
                    [Node("query", {}, protocols), Node("list", {}, users)],
                )
            ],
        )
        answer = await self.core.query(request)
        usync = answer.get_child("usync")
        listed = usync.get_child("list") if usync is not None else None
        if listed is None:
            raise ProtocolError("usync contact answer without <usync><list>")
        out: dict[str, OnWhatsApp] = {}
        for user in listed.get_children("user"):
            result = await self._parse_user(user, batch)
            if result is not None:
                out[normalise_number(result.jid)] = result
        return out

    async def _parse_user(self, user: Node, batch: dict[str, str]) -> OnWhatsApp | None:
        contact = user.get_child("contact")
        if contact is None:
            return None
        raw = contact.content_bytes() or b""
        try:
            echoed = normalise_number(raw.decode("utf-8", "replace"))
        except InvalidPhoneNumber:
            echoed = None
        try:
            jid = JID.parse(user.attrs["jid"]) if user.attrs.get("jid") else None
            pn = JID.parse(user.attrs["pn_jid"]) if user.attrs.get("pn_jid") else None
        except InvalidJID:
            log.warning("a usync contact answer names a malformed jid")
            return None
        if pn is None and jid is not None and jid.server == DEFAULT_USER_SERVER:
            pn = jid
        number = pn.user if pn is not None else echoed
        if number is None or number not in batch:
            return None  # not one of ours: the server answered something we did not ask
        lid = jid if jid is not None and jid.server == HIDDEN_USER_SERVER else None
        exists = contact.attrs.get("type") == "in"
        pn_jid = JID(number, DEFAULT_USER_SERVER)
        if exists and lid is not None:
            await self.devices.learn(pn_jid, lid.to_non_ad())
        business, verified = _verified_name(user.get_child("business"))
        return OnWhatsApp(
            query=batch[number],
            exists=exists,
            jid=str(pn_jid),
            lid=str(lid.to_non_ad()) if lid is not None else None,
            is_business=business,
            verified_name=verified,
        )
