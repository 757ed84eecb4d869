"""A client's components on a fake link: Receiver and Sender driven without a socket.

``FakeLink`` records what the client sends and answers its queries from a function;
``Peer`` is a contact's device with a Signal repository of its own; ``offline_client``
wires the same components ``WASocket`` does onto one ``ClientCore``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from wamd.binary import JID, Node
from wamd.client.core import Attempt, ClientCore
from wamd.client.devices import DeviceDirectory
from wamd.client.groups import GroupDirectory
from wamd.client.prekeys import PreKeyUpkeep
from wamd.client.receive import Receiver
from wamd.client.send import Sender
from wamd.client.socket import SocketOptions
from wamd.crypto import DJB_TYPE, SignedKeyPair, generate_keypair
from wamd.errors import DisconnectReason
from wamd.messaging.core import pad
from wamd.messaging.crypt import parse_message
from wamd.proto import e2e_pb2
from wamd.signal import SignalRepository
from wamd.signal.prekeys import prekey_node, signed_prekey_node
from wamd.signal.session import PreKeyBundle
from wamd.store import AuthState, MemoryKeyStore, init_auth_creds
from wamd.store.creds import Me


class FakeLink:
    """Records every stanza; ``answer(node)`` gives each iq's result."""

    def __init__(self, answer: Callable[[Node], Node]) -> None:
        self.answer = answer
        self.sent: list[Node] = []
        self._closed = False
        self._ids = 0

    @property
    def closed(self) -> bool:
        return self._closed

    async def send(self, node: Node) -> None:
        self.sent.append(node)

    async def query(self, node: Node, timeout: float) -> Node:
        self.sent.append(node)
        return self.answer(node)

    async def request(self, node: Node, timeout: float) -> Node:
        self.sent.append(node)
        return Node("ack", {"class": node.tag, "id": node.attrs.get("id", ""), "t": "1"})

    def new_id(self) -> str:
        self._ids += 1
        return f"fake-{self._ids}"

    async def close(self, reason: DisconnectReason | int, message: str) -> None:
        self._closed = True

    def of(self, tag: str) -> list[Node]:
        return [n for n in self.sent if n.tag == tag]


class Peer:
    """One device of a contact (or of our own account), able to encrypt and decrypt."""

    def __init__(self, jid: str) -> None:
        self.jid = JID.parse(jid)
        identity = generate_keypair()
        self.repo = SignalRepository(
            MemoryKeyStore(), identity, 4242, SignedKeyPair.generate(identity, 7)
        )

    async def bundle_node(self) -> Node:
        """Its prekey bundle, as a key fetch answers it."""
        [(key_id, key)] = await self.repo.new_prekeys(1, 1)
        return Node(
            "user",
            {"jid": str(self.jid)},
            [
                Node("registration", {}, self.repo.registration_id.to_bytes(4, "big")),
                Node("type", {}, bytes((DJB_TYPE,))),
                Node("identity", {}, self.repo.identity.public),
                signed_prekey_node(self.repo.signed_prekey),
                prekey_node(key_id, key.public),
            ],
        )

    async def open(self, sender: str, enc: Node) -> e2e_pb2.Message:
        from wamd.messaging.core import unpad

        result = await self.repo.decrypt(sender, enc.attrs["type"], enc.content_bytes() or b"")
        return parse_message(unpad(result.plaintext))

    async def seal_for(self, bundle: PreKeyBundle, to: str, message: e2e_pb2.Message) -> Node:
        """An ``<enc>`` of ``message`` for device ``to`` (a new session from ``bundle``)."""
        if not await self.repo.has_session(to):
            await self.repo.inject_bundle(to, bundle)
        kind, data = await self.repo.encrypt(to, pad(message.SerializeToString()))
        return Node("enc", {"v": "2", "type": kind}, data)


@dataclass
class OfflineClient:
    core: ClientCore
    link: FakeLink
    devices: DeviceDirectory
    groups: GroupDirectory
    sender: Sender
    receiver: Receiver

    async def our_bundle(self) -> PreKeyBundle:
        creds = self.core.auth.creds
        [(key_id, key)] = await self.core.signal.new_prekeys(creds.next_pre_key_id, 1)
        spk = creds.signed_pre_key
        return PreKeyBundle(
            creds.registration_id,
            JID.parse(creds.me.id).device if creds.me else 0,
            creds.signed_identity_key.public,
            spk.key_id,
            spk.key_pair.public,
            spk.signature,
            key_id,
            key.public,
        )


def offline_client(
    answer: Callable[[Node], Node],
    me: str = "15550001111:2@s.whatsapp.net",
    logger: logging.Logger | None = None,
) -> OfflineClient:
    auth = AuthState(init_auth_creds(), MemoryKeyStore())
    auth.creds.me = Me(me, None, "Bot")
    auth.creds.account = b"ADV-IDENTITY"
    link = FakeLink(answer)
    core = ClientCore(auth, SocketOptions(logger=logger), logger or logging.getLogger("tests.fake"))
    core.attempt = Attempt(1, registering=False, conn=link)
    devices = DeviceDirectory(
        auth.keys, core.query, core.new_sid, core.logger_for("wamd.client.devices")
    )
    groups = GroupDirectory(core)
    sender = Sender(core, devices, groups)
    receiver = Receiver(core, devices, groups, sender, PreKeyUpkeep(core))
    return OfflineClient(core, link, devices, groups, sender, receiver)


def usync_answer(request: Node, devices: dict[str, list[int]]) -> Node:
    """The server's answer to a usync device query: ``devices`` maps users to ids."""
    usync = request.require_child("usync")
    users = []
    for user in usync.require_child("list").get_children("user"):
        jid = user.attrs["jid"]
        ids = devices.get(jid, [])
        users.append(
            Node(
                "user",
                {"jid": jid},
                [
                    Node(
                        "devices",
                        {},
                        [Node("device-list", {}, [Node("device", {"id": str(i)}) for i in ids])],
                    )
                ],
            )
        )
    return Node(
        "iq",
        {"type": "result", "id": request.attrs.get("id", "")},
        [Node("usync", {}, [Node("list", {}, users)])],
    )
