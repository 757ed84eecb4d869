"""Encrypting a message for a set of devices and opening a received ``message`` stanza.

Shared by the client and the sim's phones so that both speak exactly the same wire form
(whatsmeow ``send.go`` encryptMessageForDevices, ``message.go`` decryptMessages):

- per device: ``<to jid=DEVICE><enc v="2" type="pkmsg"|"msg">ciphertext</enc></to>``;
  devices without a session get one from a fetched prekey bundle first; our own other
  devices get the device-sent form of the message; ``include_identity`` tells the caller
  to attach ``<device-identity>`` (any ``pkmsg`` was produced);
- sessions are keyed by the *encryption identity* of a device: its lid when the
  phone-number-to-lid mapping is known (what current clients do), else the JID itself;
- a received stanza's ``enc`` children are decrypted in order (``pkmsg``/``msg`` with
  the sender's session, ``skmsg`` with the sender key of the group), the padding is
  removed and the ``Message`` is parsed; a sender key distribution inside is processed
  before the next ``enc`` (the group ``skmsg`` follows it in the same stanza).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError as ProtobufDecodeError

from wamd.binary.jid import JID
from wamd.binary.node import Node
from wamd.errors import MalformedMessage, NoSession, SignalError, WamdError
from wamd.messaging.core import pad, unpad
from wamd.proto import e2e_pb2
from wamd.signal.repository import SignalRepository
from wamd.signal.session import PreKeyBundle

__all__ = [
    "BundleFetcher",
    "Encrypted",
    "OpenedEnc",
    "encrypt_for_devices",
    "open_enc",
    "parse_message",
]

log = logging.getLogger(__name__)

ENC_VERSION = "2"  # <enc v="2">: a padded Message protobuf inside

BundleFetcher = Callable[[Sequence[JID]], Awaitable[Mapping[JID, PreKeyBundle | Exception]]]


@dataclass
class Encrypted:
    nodes: list[Node] = field(default_factory=list)  # one <to> per device
    include_identity: bool = False
    failed: dict[JID, Exception] = field(default_factory=dict)
    devices: list[JID] = field(default_factory=list)  # the devices that got a copy


async def encrypt_for_devices(
    repo: SignalRepository,
    devices: Sequence[JID],
    plaintext: bytes,
    *,
    fetch_bundles: BundleFetcher,
    own_users: frozenset[str] = frozenset(),
    skip: frozenset[JID] = frozenset(),
    dsm_plaintext: bytes | None = None,
    session_jid: Callable[[JID], JID] = lambda jid: jid,
    enc_attrs: Mapping[str, str] | None = None,
) -> Encrypted:
    """Encrypt for each device (except ``skip``); see the module docstring."""
    out = Encrypted()
    targets = [d for d in devices if d not in skip]
    missing = [d for d in targets if not await repo.has_session(session_jid(d))]
    if missing:
        bundles = await fetch_bundles(missing)
        for device in missing:
            bundle = bundles.get(device)
            if bundle is None:
                out.failed[device] = NoSession(f"the server returned no prekeys for {device}")
                continue
            if isinstance(bundle, Exception):
                out.failed[device] = bundle
                continue
            try:
                await repo.inject_bundle(session_jid(device), bundle)
            except WamdError as exc:
                out.failed[device] = exc
    # every device's ratchet step in one transaction: a durable store commits once per
    # message, not once per device (Baileys' relayMessage wraps its encryptions in one
    # keys transaction too). Nothing in it waits on the network, and a device that fails
    # fails before it writes (no session, a corrupted record), so the others' steps stand.
    # (The bundles above stay one transaction each: a bundle that fails its signature
    # check must not leave its identity key behind in a shared one.)
    async with repo.store.transaction():
        for device in targets:
            if device in out.failed:
                continue
            data = plaintext
            if dsm_plaintext is not None and device.user in own_users:
                data = dsm_plaintext
            try:
                kind, ciphertext = await repo.encrypt(session_jid(device), pad(data))
            except SignalError as exc:
                out.failed[device] = exc
                continue
            attrs = {"v": ENC_VERSION, "type": kind}
            if enc_attrs:
                attrs.update(enc_attrs)
            out.include_identity = out.include_identity or kind == "pkmsg"
            out.nodes.append(Node("to", {"jid": str(device)}, [Node("enc", attrs, ciphertext)]))
            out.devices.append(device)
    for device, problem in out.failed.items():
        log.warning("could not encrypt for %s: %s", device, problem)
    return out


def parse_message(data: bytes) -> e2e_pb2.Message:
    message = e2e_pb2.Message()
    try:
        message.ParseFromString(data)
    except ProtobufDecodeError:
        raise MalformedMessage("decrypted payload is not a valid Message protobuf") from None
    return message


@dataclass(frozen=True, slots=True)
class OpenedEnc:
    kind: str
    message: e2e_pb2.Message
    identity_changed: bool = False
    plaintext: bytes = field(default=b"", repr=False)  # what ``message`` was parsed from


async def open_enc(
    repo: SignalRepository,
    enc: Node,
    sender: JID,
    group_jid: str | None,
) -> OpenedEnc:
    """Decrypt one ``enc`` child from ``sender`` (its encryption identity).

    Raises ``SignalError`` subclasses when it cannot be decrypted (nothing is stored
    then) and ``InvalidMessage`` for a malformed node or plaintext.
    """
    kind = enc.attrs.get("type", "")
    data = enc.content_bytes()
    if data is None:
        raise MalformedMessage(f"<enc type={kind!r}> without a ciphertext")
    version = enc.attrs.get("v", ENC_VERSION)
    changed = False
    if kind in ("pkmsg", "msg"):
        result = await repo.decrypt(sender, kind, data)
        padded, changed = result.plaintext, result.identity_changed
    elif kind == "skmsg":
        if group_jid is None:
            raise MalformedMessage("a group (skmsg) payload outside a group")
        padded = await repo.group_decrypt(group_jid, sender, data)
    else:
        raise MalformedMessage(f"unknown enc type {kind!r}")
    plaintext = padded if version == "3" else unpad(padded)
    message = parse_message(plaintext)
    skdm = message.senderKeyDistributionMessage
    if (
        message.HasField("senderKeyDistributionMessage")
        and skdm.axolotlSenderKeyDistributionMessage
    ):
        target_group = skdm.groupID or group_jid
        if target_group:
            await repo.process_distribution(
                target_group, sender, skdm.axolotlSenderKeyDistributionMessage
            )
    return OpenedEnc(kind, message, changed, plaintext)
