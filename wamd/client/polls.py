"""Polls on a socket: the secrets of polls sent and received, votes decrypted into
``messages.update``, and votes cast (the crypto is ``wamd.messaging.polls``).

- A poll we send (``{"poll": {"name", "options", "selectable"}}``) carries a fresh
  message secret; it is stored (``message-secret``, every auth store) under the poll's
  id with its chat, creator (our phone-number JID, and our LID as the other form) and
  options, as whatsmeow stores its own (``StoreMessageSecret`` on send).
- A poll we receive is stored the same way, its creator being the sender.
- A vote (``pollUpdateMessage``) on a stored poll is decrypted and emitted as
  ``messages.update`` with ``status="poll_vote"`` and a ``PollVote`` (the voter and the
  names of the options chosen; none when the vote was taken back). A vote that does not
  decrypt is logged (at WARNING, without key material) and emitted as a message only.
- ``{"vote": {"poll": WAMessage | MessageKey, "options": [...]}}`` casts our vote on a
  stored poll.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from wamd.binary import JID
from wamd.binary.jid import DEFAULT_USER_SERVER, GROUP_SERVER, HIDDEN_USER_SERVER, InvalidJID
from wamd.errors import ContentError, InvalidMessage
from wamd.messaging.core import is_poll_creation
from wamd.messaging.polls import PollSecret, decrypt_vote, encrypt_vote
from wamd.messaging.types import MessageKey, MessageUpdate, PollVote, WAMessage
from wamd.proto import common_pb2, e2e_pb2
from wamd.store.views import MessageSecrets, StoredSecret

if TYPE_CHECKING:
    from wamd.client.core import ClientCore
    from wamd.client.devices import DeviceDirectory

__all__ = ["Polls", "poll_of"]

MAX_OPTIONS = 12  # options a WhatsApp poll offers at most


def poll_of(message: e2e_pb2.Message) -> e2e_pb2.PollCreationMessage | None:
    for name in ("pollCreationMessage", "pollCreationMessageV3", "pollCreationMessageV2"):
        if message.HasField(name):
            poll: e2e_pb2.PollCreationMessage = getattr(message, name)
            return poll
    return None


def _secret_of(message: e2e_pb2.Message, content: e2e_pb2.Message) -> bytes | None:
    for holder in (content, message):
        if holder.HasField("messageContextInfo") and holder.messageContextInfo.messageSecret:
            secret: bytes = holder.messageContextInfo.messageSecret
            return secret
    return None


def build_poll(fields: Mapping[str, Any]) -> tuple[str, list[str], int]:
    """The checked ``name``, ``options`` and ``selectable`` of ``{"poll": ...}``."""
    name = fields.get("name")
    options = fields.get("options", fields.get("values"))
    selectable = fields.get("selectable", fields.get("selectable_count", 1))
    if not isinstance(name, str) or not name.strip():
        raise ContentError("a poll needs a name")
    if not isinstance(options, (list, tuple)) or not all(isinstance(o, str) for o in options):
        raise ContentError('a poll\'s "options" is a list of option names')
    if len(options) < 2 or len(options) > MAX_OPTIONS:
        raise ContentError(f"a poll has 2 to {MAX_OPTIONS} options, not {len(options)}")
    if len(set(options)) != len(options) or not all(o.strip() for o in options):
        raise ContentError("a poll's options must be distinct and not empty")
    if isinstance(selectable, bool) or not isinstance(selectable, int):
        raise ContentError('a poll\'s "selectable" is a number of options')
    if not 0 <= selectable <= len(options):
        raise ContentError(f"selectable must be 0 (any number) to {len(options)}")
    return name, list(options), selectable


class Polls:
    def __init__(self, core: ClientCore, devices: DeviceDirectory) -> None:
        self.core = core
        self.devices = devices
        self.log = core.logger_for(__name__)
        self.secrets = MessageSecrets(core.auth.keys)

    async def _other_form(self, jid: JID) -> str | None:
        if jid.server == DEFAULT_USER_SERVER:
            other = await self.devices.lid_for(jid)
        elif jid.server == HIDDEN_USER_SERVER:
            other = await self.devices.pn_for(jid)
        else:
            return None
        return str(other.to_non_ad()) if other is not None else None

    async def _get(self, poll_id: str) -> PollSecret | None:
        stored = await self.secrets.get(poll_id)
        if stored is None:
            return None
        return PollSecret(
            stored.poll_id,
            stored.chat,
            stored.creator,
            stored.options,
            stored.secret,
            stored.creator_alt,
        )

    async def _remember(
        self, poll_id: str, chat: str, creator: JID, message: e2e_pb2.Message
    ) -> None:
        content = message
        if content.HasField("deviceSentMessage"):
            content = content.deviceSentMessage.message
        poll = poll_of(content)
        secret = _secret_of(message, content)
        if poll is None or secret is None:
            return
        creator = creator.to_non_ad()
        await self.secrets.remember(
            StoredSecret(
                poll_id,
                chat,
                str(creator),
                tuple(o.optionName for o in poll.options),
                secret,
                await self._other_form(creator),
            )
        )

    async def sent(self, poll_id: str, chat: JID, message: e2e_pb2.Message) -> None:
        """We are sending ``message``: keep its secret if it is a poll."""
        if is_poll_creation(message):
            own = self.core.require_own()
            creator = own.lid if chat.server == HIDDEN_USER_SERVER and own.lid else own.pn
            await self._remember(poll_id, str(chat), creator, message)

    async def received(self, msg: WAMessage) -> None:
        """A message arrived: keep its secret if it is a poll; emit a vote it casts."""
        content = msg.content
        if content is None or msg.sender is None:
            return
        poll = msg.message if poll_of(content) is not None else None  # a poll's creation
        vote = content.HasField("pollUpdateMessage")
        if poll is None and not vote:  # most messages: no sender to parse
            return
        try:
            sender = JID.parse(msg.sender)
        except InvalidJID:
            return
        if poll is not None:
            await self._remember(msg.key.id, msg.key.remote_jid, sender, poll)
        if vote:
            await self._vote(msg, sender, content.pollUpdateMessage)

    async def _vote(self, msg: WAMessage, sender: JID, update: e2e_pb2.PollUpdateMessage) -> None:
        target = update.pollCreationMessageKey
        poll = await self._get(target.ID)
        if poll is None:
            self.log.info("a vote on poll %s, which this device does not know", target.ID)
            return
        voter = sender.to_non_ad()
        voters = [str(voter)]
        alt = await self._other_form(voter)
        if alt:
            voters.append(alt)
        creators = self._key_creator(msg, voter, target)
        try:
            selected = decrypt_vote(poll, voters, update.vote, creators)
        except InvalidMessage as exc:
            self.log.warning("cannot read a vote by %s on poll %s: %s", voter, target.ID, exc)
            return
        key = MessageKey(
            msg.key.remote_jid,
            poll.creator in self._own_forms(),
            poll.poll_id,
            poll.creator
            if msg.key.remote_jid.endswith("@" + GROUP_SERVER)
            and poll.creator not in self._own_forms()
            else None,
        )
        vote = PollVote(
            voter=str(voter),
            selected_options=selected,
            timestamp_ms=update.senderTimestampMS,
            vote_key=msg.key,
        )
        self.core.ev.emit("messages.update", [MessageUpdate(key, "poll_vote", poll_vote=vote)])

    def _own_forms(self) -> set[str]:
        own = self.core.own_ids()
        if own is None:
            return set()
        return {str(j.to_non_ad()) for j in (own.pn, own.lid) if j is not None}

    def _key_creator(self, msg: WAMessage, voter: JID, key: common_pb2.MessageKey) -> list[str]:
        """The creator the vote's poll key names (whatsmeow getOrigSenderFromKey): the
        voter when the key is theirs, the chat's other party in 1:1 (the key's
        ``remoteJID``), the key's participant in a group."""
        if key.fromMe:
            return [str(voter)]
        named = (
            key.participant if msg.key.remote_jid.endswith("@" + GROUP_SERVER) else key.remoteJID
        )
        try:
            return [str(JID.parse(named).to_non_ad())] if named else []
        except InvalidJID:
            return []

    async def vote_message(self, spec: Any) -> e2e_pb2.Message:
        """``{"poll": WAMessage | MessageKey | key dict, "options": [...]}`` as our vote."""
        if not isinstance(spec, Mapping) or "poll" not in spec:
            raise ContentError('a vote is {"vote": {"poll": message or key, "options": [...]}}')
        target = spec["poll"]
        key = target.key if isinstance(target, WAMessage) else target
        if isinstance(key, Mapping):
            key = MessageKey(
                str(key.get("remote_jid", "")),
                bool(key.get("from_me", False)),
                str(key.get("id", "")),
                key.get("participant"),
            )
        if not isinstance(key, MessageKey):
            raise ContentError("a vote's poll is a WAMessage or its MessageKey")
        options = spec.get("options", ())
        if isinstance(options, str) or not all(isinstance(o, str) for o in options):
            raise ContentError('a vote\'s "options" is a list of option names')
        poll = await self._get(key.id)
        if poll is None:
            raise ContentError(f"poll {key.id} is not known to this device: cannot vote on it")
        own = self.core.require_own()
        creator = JID.parse(poll.creator)
        me = own.lid if creator.server == HIDDEN_USER_SERVER and own.lid else own.pn
        try:
            enc = encrypt_vote(poll, str(me.to_non_ad()), options)
        except ValueError as exc:
            raise ContentError(str(exc)) from None
        # the poll's key from our side, as whatsmeow getKeyFromInfo writes it
        poll_key = common_pb2.MessageKey(
            remoteJID=poll.chat, fromMe=poll.creator in self._own_forms(), ID=poll.poll_id
        )
        if poll.chat.endswith("@" + GROUP_SERVER):
            poll_key.participant = poll.creator
        return e2e_pb2.Message(
            pollUpdateMessage=e2e_pb2.PollUpdateMessage(
                pollCreationMessageKey=poll_key,
                vote=enc,
                senderTimestampMS=int(time.time() * 1000),
            )
        )
