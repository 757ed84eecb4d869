"""Typed, frozen payloads of the messaging events (``messages.upsert`` and friends).

Field names follow Baileys' ``WAMessage`` in snake_case so that code ported from
Baileys reads naturally: ``msg.key.remote_jid``, ``msg.key.from_me``, ``msg.key.id``,
``msg.key.participant``, ``msg.push_name``, ``msg.message_timestamp``, ``msg.message``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from wamd.media.info import MediaInfo, media_info
from wamd.messaging.core import unwrap
from wamd.proto import common_pb2, e2e_pb2

__all__ = [
    "BlocklistSet",
    "BlocklistUpdate",
    "CallEvent",
    "ChatLock",
    "ChatUpdate",
    "Contact",
    "ContactCard",
    "GroupJoinRequest",
    "GroupMemberTagUpdate",
    "GroupMetadata",
    "GroupParticipant",
    "GroupParticipantsUpdate",
    "GroupUpdate",
    "HistoryChat",
    "HistorySet",
    "HistorySyncStatus",
    "Label",
    "LabelAssociation",
    "LabelAssociationUpdate",
    "LidMappingUpdate",
    "Location",
    "MediaUpdate",
    "MessageCappingUpdate",
    "MessageKey",
    "MessageReaction",
    "MessageReceipt",
    "MessageUpdate",
    "MessagesDelete",
    "NewsletterParticipantsUpdate",
    "NewsletterReaction",
    "NewsletterSettingsUpdate",
    "NewsletterView",
    "PollVote",
    "PresenceUpdate",
    "SettingsUpdate",
    "WAMessage",
]


@dataclass(frozen=True, slots=True)
class MessageKey:
    """Identifies a message: chat, direction, id, and the sender inside a group."""

    remote_jid: str
    from_me: bool
    id: str
    participant: str | None = None

    def to_proto(self) -> common_pb2.MessageKey:
        key = common_pb2.MessageKey(remoteJID=self.remote_jid, fromMe=self.from_me, ID=self.id)
        if self.participant:
            key.participant = self.participant
        return key


@dataclass(frozen=True, slots=True)
class Location:
    """A shared location (``locationMessage``): where, and what the sender named it."""

    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class ContactCard:
    """A shared contact (``contactMessage``, or one card of ``contactsArrayMessage``)."""

    display_name: str | None
    vcard: str


@dataclass(frozen=True, slots=True)
class WAMessage:
    """One message as the application sees it.

    ``message`` is ``None`` for a stub: ``stub_type`` then says why (``"CIPHERTEXT"``: it
    could not be decrypted yet and a retry was requested).
    """

    key: MessageKey
    message: e2e_pb2.Message | None
    message_timestamp: int
    push_name: str | None = None
    sender: str | None = None  # the sending device's JID
    stub_type: str | None = None
    category: str | None = None
    edit: str | None = None
    offline: bool = False

    @property
    def content(self) -> e2e_pb2.Message | None:
        """``message`` with device-sent, ephemeral and view-once wrappers removed."""
        return unwrap(self.message) if self.message is not None else None

    @property
    def media(self) -> MediaInfo | None:
        """The message's media, typed (kind, mimetype, size, caption, file name, seconds,
        dimensions, what a download needs), or ``None``: ``sock.download_media(msg)``."""
        return media_info(self.message)

    @property
    def location(self) -> Location | None:
        """The shared location, typed, or ``None`` when the message is not one."""
        inner = self.content
        if inner is None or not inner.HasField("locationMessage"):
            return None
        where = inner.locationMessage
        return Location(
            where.degreesLatitude,
            where.degreesLongitude,
            where.name or None,
            where.address or None,
            where.URL or None,
        )

    @property
    def contacts(self) -> tuple[ContactCard, ...]:
        """The shared contact cards (one, or several), typed; empty for other messages."""
        inner = self.content
        if inner is None:
            return ()
        if inner.HasField("contactMessage"):
            cards = [inner.contactMessage]
        elif inner.HasField("contactsArrayMessage"):
            cards = list(inner.contactsArrayMessage.contacts)
        else:
            return ()
        return tuple(ContactCard(c.displayName or None, c.vcard) for c in cards)

    @property
    def text(self) -> str | None:
        """The text of a plain or extended text message (or a caption), else ``None``."""
        inner = self.content
        if inner is None:
            return None
        if inner.HasField("conversation"):
            return inner.conversation
        if inner.HasField("extendedTextMessage"):
            return inner.extendedTextMessage.text
        for media in ("imageMessage", "videoMessage", "documentMessage"):
            if inner.HasField(media):
                caption: str = getattr(inner, media).caption
                return caption or None
        return None


@dataclass(frozen=True, slots=True)
class PollVote:
    """A vote on a poll: who voted, the options chosen (none: the vote was taken back)."""

    voter: str  # the voter's user JID
    selected_options: tuple[str, ...]
    timestamp_ms: int
    vote_key: MessageKey  # the vote message itself


@dataclass(frozen=True, slots=True)
class MessageUpdate:
    """A change to a known message (``messages.update``): status, edit, revoke or a vote."""

    key: MessageKey
    status: Literal[
        "server_ack",
        "delivery_ack",
        "read",
        "played",
        "revoked",
        "edited",
        "poll_vote",
        "starred",
        "unstarred",
    ]
    message: e2e_pb2.Message | None = None
    poll_vote: PollVote | None = None  # with status "poll_vote": the (decrypted) vote


@dataclass(frozen=True, slots=True)
class MessageReceipt:
    """A receipt from another user (``message-receipt.update``)."""

    key: MessageKey
    user_jid: str  # who delivered/read it
    type: Literal["delivery", "read", "played", "inactive", "sender", "retry", "other"]
    timestamp: int
    message_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PresenceUpdate:
    """``presence.update``: ``presences`` maps a participant JID to its state."""

    id: str  # the chat
    presences: dict[str, str] = field(default_factory=dict)
    last_seen: int | None = None


@dataclass(frozen=True, slots=True)
class GroupParticipant:
    id: str
    admin: Literal["admin", "superadmin"] | None = None
    lid: str | None = None


@dataclass(frozen=True, slots=True)
class GroupMetadata:
    id: str
    subject: str
    owner: str | None
    creation: int
    participants: tuple[GroupParticipant, ...]
    subject_owner: str | None = None
    subject_time: int | None = None
    desc: str | None = None  # the description
    desc_id: str | None = None
    desc_owner: str | None = None
    desc_time: int | None = None
    announce: bool = False  # only admins send messages
    restrict: bool = False  # only admins edit the group's info (the group is "locked")
    member_add_mode: bool = False  # every member may add others ("all_member_add")
    join_approval_mode: bool = False  # joining by link needs an admin's approval
    ephemeral_duration: int | None = None  # disappearing-messages timer, seconds
    size: int | None = None


@dataclass(frozen=True, slots=True)
class GroupParticipantsUpdate:
    """``group-participants.update``: ``action`` applied to ``participants`` by ``author``."""

    id: str
    author: str | None
    participants: tuple[str, ...]
    action: Literal["add", "remove", "promote", "demote"]


@dataclass(frozen=True, slots=True)
class MessageReaction:
    """``messages.reaction``: ``reaction.text`` put on (or, when empty, taken off) ``key``."""

    key: MessageKey  # the message reacted to
    reaction_key: MessageKey  # the reaction message itself (who reacted, its id)
    text: str
    timestamp_ms: int = 0


@dataclass(frozen=True, slots=True)
class GroupUpdate:
    """``groups.update``: the group properties that changed (the others are ``None``)."""

    id: str
    author: str | None
    subject: str | None = None
    desc: str | None = None  # "" when the description was removed
    desc_id: str | None = None
    announce: bool | None = None
    restrict: bool | None = None
    member_add_mode: bool | None = None  # True: every member may add others
    join_approval_mode: bool | None = None
    ephemeral_duration: int | None = None  # 0: disappearing messages turned off
    invite_code: str | None = None  # the new invite code, after a revoke


@dataclass(frozen=True, slots=True)
class CallEvent:
    """``call``: an incoming call offer, its end, or another call signal (whatsmeow call.go)."""

    chat_id: str  # who calls (the ``from`` device)
    call_id: str
    status: str  # the signal's tag: "offer", "offer_notice", "accept", "reject", "terminate"...
    creator: str | None
    timestamp: int
    group_jid: str | None = None
    is_video: bool = False


@dataclass(frozen=True, slots=True)
class HistoryChat:
    """A chat as the history sync describes it."""

    id: str
    name: str | None = None
    unread_count: int = 0
    last_message_timestamp: int = 0
    archived: bool = False


@dataclass(frozen=True, slots=True)
class HistorySet:
    """``messaging-history.set``: a batch of the recent history the phone sent at link time."""

    chats: tuple[HistoryChat, ...]
    contacts: dict[str, str]  # JID -> push name
    messages: tuple[WAMessage, ...]
    lid_mappings: dict[str, str]  # phone-number JID -> lid JID
    sync_type: str  # "INITIAL_BOOTSTRAP", "RECENT", "PUSH_NAME", ...
    progress: int | None = None
    is_latest: bool = False
    # chat JID -> (its privacy token for us, issue time); kept by the socket, not shown
    tc_tokens: dict[str, tuple[bytes, int]] = field(default_factory=dict, repr=False)
    nct_salt: bytes | None = field(default=None, repr=False)  # the account's cstoken salt


# Payloads of events wamd does not emit yet; their shapes are Baileys' (``Contact``,
# ``messages.delete``, ``blocklist.*``), so that handlers written today keep working.


@dataclass(frozen=True, slots=True)
class MessagesDelete:
    """``messages.delete``: these ``keys`` were deleted, or every message of ``jid`` (``all``)."""

    keys: tuple[MessageKey, ...] = ()
    jid: str | None = None
    all: bool = False


@dataclass(frozen=True, slots=True)
class Contact:
    """``contacts.upsert`` / ``contacts.update``: a contact; ``notify`` is its push name."""

    id: str
    lid: str | None = None
    name: str | None = None
    notify: str | None = None


@dataclass(frozen=True, slots=True)
class BlocklistSet:
    """``blocklist.set``: the whole blocklist."""

    blocklist: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BlocklistUpdate:
    """``blocklist.update``: ``blocklist`` was added to, or removed from, the blocklist."""

    blocklist: tuple[str, ...]
    type: Literal["add", "remove"]


# Payloads of the rest of Baileys' events (``Types/Events.ts``), in its shapes and snake_case.
# ``docs/events.md`` says which wamd emits; a handler for one it does not emit yet can be
# registered, so that an application ported from Baileys starts.


@dataclass(frozen=True, slots=True)
class HistorySyncStatus:
    """``messaging-history.status``: a history sync phase is ``complete`` (or ``paused``);
    ``explicit`` when the phone said so (progress 100) rather than it being inferred."""

    sync_type: str
    status: Literal["complete", "paused"]
    explicit: bool = True


@dataclass(frozen=True, slots=True)
class LidMappingUpdate:
    """``lid-mapping.update``: the phone number ``pn`` and ``lid`` are one account."""

    pn: str
    lid: str


@dataclass(frozen=True, slots=True)
class MediaUpdate:
    """``messages.media-update``: the sender re-uploaded the media of ``key`` (``ciphertext``
    and ``iv`` of the retry notification), or could not (``error``)."""

    key: MessageKey
    ciphertext: bytes | None = None
    iv: bytes | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class GroupJoinRequest:
    """``group.join-request``: ``participant`` asked to join ``id`` (``created``), took the
    request back (``revoked``) or an admin turned it down (``rejected``)."""

    id: str
    author: str | None
    participant: str
    action: Literal["created", "revoked", "rejected"]
    method: str | None = None  # "invite_link", "linked_group_join", "non_admin_add"


@dataclass(frozen=True, slots=True)
class GroupMemberTagUpdate:
    """``group.member-tag.update``: the label shown for ``participant`` in ``group_id``."""

    group_id: str
    participant: str
    label: str
    message_timestamp: int | None = None


@dataclass(frozen=True, slots=True)
class Label:
    """``labels.edit``: a label was created, changed or (``deleted``) removed."""

    id: str
    name: str
    color: int = 0
    deleted: bool = False
    predefined_id: str | None = None


@dataclass(frozen=True, slots=True)
class LabelAssociation:
    """A label put on a chat (``type="chat"``) or on one message of it."""

    type: Literal["chat", "message"]
    chat_id: str
    label_id: str
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class LabelAssociationUpdate:
    """``labels.association``: ``association`` was added or removed."""

    association: LabelAssociation
    type: Literal["add", "remove"]


@dataclass(frozen=True, slots=True)
class NewsletterReaction:
    """``newsletter.reaction``: a reaction count on a channel post changed."""

    id: str
    server_id: str
    code: str | None = None
    count: int | None = None
    removed: bool = False


@dataclass(frozen=True, slots=True)
class NewsletterView:
    """``newsletter.view``: the view count of a channel post."""

    id: str
    server_id: str
    count: int


@dataclass(frozen=True, slots=True)
class NewsletterParticipantsUpdate:
    """``newsletter-participants.update``: ``user``'s role in channel ``id`` changed."""

    id: str
    author: str
    user: str
    new_role: str
    action: str


@dataclass(frozen=True, slots=True)
class NewsletterSettingsUpdate:
    """``newsletter-settings.update``: channel ``id``'s settings changed (``update``)."""

    id: str
    update: dict[str, Any]


@dataclass(frozen=True, slots=True)
class MessageCappingUpdate:
    """``message-capping.update``: how many new chats this account may still start."""

    info: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChatLock:
    """``chats.lock``: chat ``id`` was locked or unlocked."""

    id: str
    locked: bool


@dataclass(frozen=True, slots=True)
class SettingsUpdate:
    """``settings.update``: an account setting synced from another device."""

    setting: str
    value: Any


@dataclass(frozen=True, slots=True)
class ChatUpdate:
    """``chats.update``: what changed about a chat (Baileys' partial ``Chat``).

    A field left ``None`` did not change. ``mute_end_time`` is in ms since the epoch,
    ``-1`` for "muted forever" and ``0`` once unmuted; ``pinned`` is when the chat was
    pinned (ms), ``0`` once unpinned; ``unread_count`` is ``0`` when marked read and
    ``-1`` when marked unread (as Baileys reports a mark-as-unread).
    """

    id: str
    archived: bool | None = None
    pinned: int | None = None
    mute_end_time: int | None = None
    unread_count: int | None = None
    timestamp: int = 0  # ms: when the change was made (the app-state action's timestamp)
