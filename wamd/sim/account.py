"""``SimPhone``: a registered account's primary phone, the handle tests script.

The phone's Signal endpoint (what it sends and receives) is ``phone.py``; this is the
account around it: its number, LID and account key, its linked companions, whether the
phone is online, and the actions a person takes on a phone (send, read, react, create a
group, scan a QR code, type a pairing code, unlink a device).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from wamd.appstate import actions as appstate_actions
from wamd.binary import JID, Node
from wamd.binary.jid import DEFAULT_USER_SERVER, HIDDEN_USER_SERVER
from wamd.crypto import KeyPair
from wamd.errors import InvalidMessage, MediaError, SimError
from wamd.messaging.core import is_poll_creation
from wamd.messaging.polls import PollSecret, decrypt_vote, encrypt_vote, poll_creation
from wamd.proto import common_pb2, e2e_pb2, sync_action_pb2
from wamd.sim import rand
from wamd.sim.appstate import AccountAppState
from wamd.sim.calls import SimCall
from wamd.sim.groups import SimGroup
from wamd.sim.phone import PhoneEndpoint, SimMessage, SimReceipt, reaction_message, text_message
from wamd.sim.profile import DEFAULT_PRIVACY
from wamd.sim.state import PRIMARY_OFFLINE_LIMIT, SimDevice

if TYPE_CHECKING:
    from wamd.sim.server import SimServer

__all__ = ["SimPhone"]


class SimPhone:
    """A registered account's primary phone, scriptable from tests."""

    def __init__(
        self, server: SimServer, number: str, name: str, *, business: bool = False
    ) -> None:
        state = server.state
        self.server = server
        self.state = state
        self.number = number
        self.name = name
        self.business = business  # a WhatsApp Business account (add_phone(business=True))
        self.lid_user = str(100_000_000_000_000 + state.rng.getrandbits(40))
        self.account_key: KeyPair = rand.keypair(state.rng)  # the account's identity (ADV)
        self.companions: dict[int, SimDevice] = {}
        self.next_device = 1  # taken by SimState.allocate_companion
        self.key_index = 0
        self.last_online = state.clock()
        self.online = True
        self.status = "Hey there! I am using WhatsApp."
        self.status_time = state.now()
        self.disappearing = 0  # the account's default disappearing-messages timer (seconds)
        # the profile (wamd/sim/profile.py)
        self.picture: tuple[str, bytes] | None = None  # (picture id, JPEG)
        self.privacy: dict[str, str] = dict(DEFAULT_PRIVACY)
        self.blocked: dict[str, str] = {}  # pn user -> lid JID
        self.business_profile: dict[str, str] = {
            "description": f"{name} on the sim",
            "category": "Shopping & retail",
            "email": f"hello@{number}.example",
            "website": f"https://{number}.example",
            "address": "1 Loopback Street",
        }
        self.primary = SimDevice(
            self,
            JID(number, DEFAULT_USER_SERVER),
            JID(self.lid_user, HIDDEN_USER_SERVER),
            identity=b"",
            registration_id=0,
            signed_prekey_id=0,
            signed_prekey=b"",
            signed_prekey_signature=b"",
            key_index=0,
        )
        self.endpoint = PhoneEndpoint(state, server.router, self, self.primary)
        self.primary.endpoint = self.endpoint.deliver
        self.app_state = AccountAppState(self)  # contacts, chat states, labels (synced)

    # ------------------------------------------------------------------ app state
    # What a person does in the phone's chat list and address book: each is a real,
    # encrypted app-state patch, and every companion gets a server_sync notification.

    def _chat(self, jid: JID | str) -> str:
        return str(_as_jid(jid).to_non_ad())

    async def save_contact(self, jid: JID | str, full_name: str | None) -> int:
        """Save a contact's name in the address book (``None`` removes it)."""
        return await self.app_state.phone_write(
            appstate_actions.save_contact(self._chat(jid), full_name)
        )

    async def save_contacts(self, names: dict[str, str]) -> int:
        """Save many contacts in one patch (an address-book import: one external blob
        when it is big)."""
        requests = [appstate_actions.save_contact(self._chat(j), n) for j, n in names.items()]
        return await self.app_state.phone_write(appstate_actions.merge(requests))

    async def archive_chat(self, jid: JID | str, archived: bool = True) -> int:
        request = appstate_actions.archive(self._chat(jid), archived, self.state.now())
        return await self.app_state.phone_write(request)

    async def mute_chat(self, jid: JID | str, until_ms: int | None = -1) -> int:
        """Mute until ``until_ms`` (ms; -1 for ever), or unmute with ``None``."""
        return await self.app_state.phone_write(appstate_actions.mute(self._chat(jid), until_ms))

    async def pin_chat(self, jid: JID | str, pinned: bool = True) -> int:
        return await self.app_state.phone_write(appstate_actions.pin(self._chat(jid), pinned))

    async def mark_chat_read(self, jid: JID | str, read: bool = True) -> int:
        request = appstate_actions.mark_read(self._chat(jid), read, self.state.now())
        return await self.app_state.phone_write(request)

    async def delete_chat(self, jid: JID | str) -> int:
        request = appstate_actions.delete_chat(self._chat(jid), self.state.now())
        return await self.app_state.phone_write(request)

    async def clear_chat(self, jid: JID | str) -> int:
        request = appstate_actions.clear_chat(self._chat(jid), self.state.now())
        return await self.app_state.phone_write(request)

    async def create_label(self, label_id: str, name: str, color: int = 0) -> int:
        return await self.app_state.phone_write(appstate_actions.label_edit(label_id, name, color))

    async def label_chat(self, jid: JID | str, label_id: str, labeled: bool = True) -> int:
        request = appstate_actions.label_chat(self._chat(jid), label_id, labeled)
        return await self.app_state.phone_write(request)

    async def set_push_name(self, name: str) -> int:
        """The account's name in its settings; companions learn it from the app state."""
        self.name = name
        return await self.app_state.phone_write(appstate_actions.push_name(name))

    def chat_setting(self, index: Sequence[str]) -> sync_action_pb2.SyncActionValue | None:
        """What the app state holds at ``index`` (``("archive", jid)``, ``("mute", jid)``)."""
        return self.app_state.value(index)

    def devices(self) -> list[SimDevice]:
        """The primary and every linked companion, as usync lists them."""
        return [self.primary] + [d for d in self.companions.values() if not d.unlinked]

    # ------------------------------------------------------------------ messaging

    @property
    def received(self) -> list[SimMessage]:
        return self.endpoint.received

    @property
    def receipts(self) -> list[SimReceipt]:
        return self.endpoint.receipts

    async def next_message(self, timeout: float = 10.0) -> SimMessage:
        """The next message this phone receives (``TimeoutError`` when none comes)."""
        return await self.endpoint.next_message(timeout)

    async def wait_receipt(
        self, message_id: str, kind: str = "", timeout: float = 10.0
    ) -> SimReceipt:
        return await self.endpoint.wait_receipt(message_id, kind, timeout)

    async def send_text(
        self,
        to: JID | str,
        text: str,
        *,
        reply_to: SimMessage | None = None,
        mentions: Sequence[str] = (),
    ) -> str:
        """Send a text (a reply when ``reply_to`` is given); returns its message id."""
        target = JID.parse(to) if isinstance(to, str) else to
        return await self.endpoint.send(
            target, text_message(text, quoted=reply_to, mentions=mentions)
        )

    async def send_media(
        self,
        to: JID | str,
        kind: str,
        data: bytes,
        *,
        mimetype: str | None = None,
        caption: str | None = None,
        file_name: str | None = None,
        ptt: bool = False,
        seconds: int | None = None,
        gif_playback: bool = False,
    ) -> str:
        """Send media as the app does: encrypt, upload to the sim's media host, send the
        message (``kind``: image, video, audio, document, sticker); returns its id."""
        target = JID.parse(to) if isinstance(to, str) else to
        message = await self.endpoint.media.build(
            kind,
            data,
            mimetype=mimetype,
            caption=caption,
            file_name=file_name,
            ptt=ptt,
            seconds=seconds,
            gif_playback=gif_playback,
        )
        message_id = await self.endpoint.send(target, message)
        self.endpoint.media.keep_sent(message_id, message, data)
        return message_id

    async def send_image(self, to: JID | str, data: bytes, caption: str | None = None) -> str:
        return await self.send_media(to, "image", data, caption=caption)

    async def send_document(
        self, to: JID | str, data: bytes, file_name: str, mimetype: str | None = None
    ) -> str:
        return await self.send_media(to, "document", data, file_name=file_name, mimetype=mimetype)

    @property
    def received_media(self) -> dict[str, bytes | MediaError]:
        """Message id -> the media this phone downloaded (or why it could not)."""
        return self.endpoint.media.received_media

    async def download_media(self, message: SimMessage) -> bytes:
        """Fetch the media of a received message again, checking everything."""
        return await self.endpoint.media.download(message.message)

    async def send_message(self, to: JID | str, message: e2e_pb2.Message) -> str:
        target = JID.parse(to) if isinstance(to, str) else to
        return await self.endpoint.send(target, message)

    def _own_message(self, message_id: str) -> JID:
        sent = self.endpoint.sent.get(message_id)
        if sent is None:
            raise SimError(f"{self.number} sent no message {message_id[:64]!r}")
        return sent[0]

    async def edit(self, message_id: str, text: str) -> str:
        """Edit a text this phone sent (whatsmeow BuildEdit: a MESSAGE_EDIT protocol
        message in ``editedMessage``, the stanza with ``edit="1"``)."""
        chat = self._own_message(message_id)
        key = common_pb2.MessageKey(remoteJID=str(chat), fromMe=True, ID=message_id)
        edit = e2e_pb2.ProtocolMessage(
            key=key,
            type=e2e_pb2.ProtocolMessage.MESSAGE_EDIT,
            editedMessage=e2e_pb2.Message(conversation=text),
            timestampMS=int(self.state.clock() * 1000),
        )
        message = e2e_pb2.Message(
            editedMessage=e2e_pb2.FutureProofMessage(message=e2e_pb2.Message(protocolMessage=edit))
        )
        return await self.endpoint.send(chat, message, edit="1")

    async def revoke(self, message_id: str) -> str:
        """Delete a message this phone sent, for everyone (whatsmeow BuildRevoke: a
        REVOKE protocol message, the stanza with ``edit="7"``)."""
        chat = self._own_message(message_id)
        key = common_pb2.MessageKey(remoteJID=str(chat), fromMe=True, ID=message_id)
        revoke = e2e_pb2.ProtocolMessage(key=key, type=e2e_pb2.ProtocolMessage.REVOKE)
        return await self.endpoint.send(chat, e2e_pb2.Message(protocolMessage=revoke), edit="7")

    async def react(self, target: SimMessage, emoji: str) -> str:
        """React to a message this phone received."""
        now_ms = int(self.state.clock() * 1000)
        return await self.endpoint.send(target.chat, reaction_message(target.key, emoji, now_ms))

    async def send_poll(
        self, to: JID | str, name: str, options: Sequence[str], selectable: int = 1
    ) -> str:
        """Send a poll (a fresh message secret, as the phone's app makes one)."""
        target = JID.parse(to) if isinstance(to, str) else to
        secret = self.state.rng.randbytes(32)
        return await self.endpoint.send(target, poll_creation(name, options, selectable, secret))

    def _poll_secret(self, chat: JID, poll_id: str) -> PollSecret:
        """What this phone knows of a poll it sent or received (``SimError`` if none)."""
        for seen in reversed(self.endpoint.history):
            content = seen.message
            if content.HasField("deviceSentMessage"):
                content = content.deviceSentMessage.message
            if seen.id != poll_id or not is_poll_creation(content):
                continue
            poll = (
                content.pollCreationMessage
                if content.HasField("pollCreationMessage")
                else content.pollCreationMessageV3
                if content.HasField("pollCreationMessageV3")
                else content.pollCreationMessageV2
            )
            secret = (
                content.messageContextInfo.messageSecret
                or seen.message.messageContextInfo.messageSecret
            )
            creator = self.jid if seen.from_me else seen.sender.to_non_ad()
            other = self.state.account_of(creator)
            alt = None
            if other is not None:
                alt = str(other.lid if creator.server == DEFAULT_USER_SERVER else other.jid)
            return PollSecret(
                poll_id,
                str(chat),
                str(creator),
                tuple(o.optionName for o in poll.options),
                secret,
                alt,
            )
        raise SimError(f"{self.number} has seen no poll {poll_id}")

    async def vote(self, poll: SimMessage, options: Sequence[str]) -> str:
        """Vote on a poll this phone received (no options: take the vote back)."""
        secret = self._poll_secret(poll.chat, poll.id)
        # whatsmeow EncryptPollVote: we vote as our LID unless the poll came from a number
        me = self.jid if poll.sender.server == DEFAULT_USER_SERVER else self.lid
        try:
            enc = encrypt_vote(secret, str(me), options, iv=self.state.rng.randbytes(12))
        except ValueError as exc:
            raise SimError(str(exc)) from None
        key = common_pb2.MessageKey(remoteJID=str(poll.chat), fromMe=False, ID=poll.id)
        if poll.chat.server == "g.us":
            key.participant = str(poll.sender.to_non_ad())
        elif not poll.from_me:
            key.remoteJID = str(poll.sender.to_non_ad())
        update = e2e_pb2.PollUpdateMessage(
            pollCreationMessageKey=key,
            vote=enc,
            senderTimestampMS=int(self.state.clock() * 1000),
        )
        return await self.endpoint.send(poll.chat, e2e_pb2.Message(pollUpdateMessage=update))

    def read_vote(self, vote: SimMessage) -> tuple[str, ...]:
        """The options a vote this phone received chooses (decrypted with its poll's secret)."""
        content = vote.message
        if content.HasField("deviceSentMessage"):
            content = content.deviceSentMessage.message
        if not content.HasField("pollUpdateMessage"):
            raise SimError(f"message {vote.id} is not a poll vote")
        update = content.pollUpdateMessage
        secret = self._poll_secret(vote.chat, update.pollCreationMessageKey.ID)
        voter = vote.sender.to_non_ad()
        account = self.state.account_of(voter)
        voters = [str(voter)]
        if account is not None:
            voters += [str(account.jid), str(account.lid)]
        try:
            return decrypt_vote(secret, voters, update.vote)
        except InvalidMessage as exc:
            raise SimError(f"vote {vote.id}: {exc}") from None

    async def call(self, to: JID | str | SimPhone, *, video: bool = False) -> SimCall:
        """Ring an account's devices (an offer; no media). ``SimCall.status`` tells whether
        a device rejected it."""
        if isinstance(to, SimPhone):
            callee: SimPhone | None = to
        else:
            callee = self.state.account_of(JID.parse(to) if isinstance(to, str) else to)
        if callee is None or callee is self:
            raise SimError(f"cannot call {to}: not another account on the sim")
        return await self.server.router.calls.ring(self, callee, video=video)

    async def hang_up(self, call: SimCall) -> None:
        """Stop ringing (the callee's devices get ``<terminate reason="timeout">``)."""
        await self.server.router.calls.hang_up(call)

    async def read(self, message: SimMessage) -> None:
        """Send a read receipt for a received message (blue ticks)."""
        attrs = {"id": message.id, "to": str(message.chat), "type": "read"}
        if message.chat.server == "g.us":
            attrs["participant"] = str(message.sender)
        else:
            attrs["to"] = str(message.sender)
        await self.server.router.handle(self.primary, Node("receipt", attrs))

    async def set_presence(self, available: bool) -> None:
        kind = "available" if available else "unavailable"
        await self.server.router.handle(self.primary, Node("presence", {"type": kind}))

    async def send_chatstate(self, to: JID | str, state: str = "composing") -> None:
        await self.server.router.handle(
            self.primary, Node("chatstate", {"to": str(to)}, [Node(state)])
        )

    async def create_group(self, subject: str, members: Sequence[JID | str]) -> SimGroup:
        """Create a group with this phone as its super admin."""
        numbers = [(JID.parse(m) if isinstance(m, str) else m).user for m in members]
        return await self.server.group_service.create(self, subject, numbers)

    async def add_to_group(self, group: SimGroup, members: Sequence[JID | str]) -> None:
        numbers = [(JID.parse(m) if isinstance(m, str) else m).user for m in members]
        await self.server.group_service.change_participants(group, self, "add", numbers)

    async def remove_from_group(self, group: SimGroup, members: Sequence[JID | str]) -> None:
        numbers = [(JID.parse(m) if isinstance(m, str) else m).user for m in members]
        await self.server.group_service.change_participants(group, self, "remove", numbers)

    async def join_by_invite(self, code: str) -> None:
        """Open an invite link (``https://chat.whatsapp.com/CODE`` or the code): join the
        group, or ask to when it approves joins; ``SimError`` as the server refuses."""
        answer = await self.server.group_service.admin.join_by_code(self, code)
        error = answer.get_child("error")
        if error is not None:
            raise SimError(
                f"joining by invite {code!r}: {error.attrs.get('code')} {error.attrs.get('text')}"
            )

    @property
    def jid(self) -> JID:
        return JID(self.number, DEFAULT_USER_SERVER)

    @property
    def lid(self) -> JID:
        return JID(self.lid_user, HIDDEN_USER_SERVER)

    def go_offline(self) -> None:
        self.last_online = self.state.clock()
        self.online = False

    def go_online(self) -> None:
        self.online = True
        self.last_online = self.state.clock()

    def primary_offline_for(self) -> float:
        return 0.0 if self.online else self.state.clock() - self.last_online

    async def scan_qr(self, qr: str) -> SimDevice:
        """Link the companion showing ``qr`` (URL or bare form) to this account."""
        return await self.server.pairing.scan(self, qr)

    async def link_with_code(self, code: str) -> SimDevice:
        """Type the companion's pairing code on this phone (Settings > Linked devices)."""
        return await self.server.pairing.enter_code(self, code)

    async def unlink(self, device: SimDevice | JID | str) -> None:
        """Remove a companion, as "Log out" in the phone's linked-devices list."""
        target = (
            device
            if isinstance(device, SimDevice)
            else self.companions.get(
                (JID.parse(device) if isinstance(device, str) else device).device
            )
        )
        if target is None:
            raise SimError(f"{device} is not linked to {self.number}")
        await self.server.logins.remove_device(target)

    def expired(self) -> bool:
        """Whether the phone has been offline past ``PRIMARY_OFFLINE_LIMIT``."""
        return self.primary_offline_for() > PRIMARY_OFFLINE_LIMIT


def _as_jid(jid: JID | str) -> JID:
    if isinstance(jid, JID):
        return jid
    return JID.parse(jid if "@" in jid else f"{jid}@{DEFAULT_USER_SERVER}")
