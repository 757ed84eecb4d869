"""App-state actions: what a mutation means (an event), and the mutations a change needs.

Reading (Baileys ``processSyncAction``, whatsmeow ``dispatchAppState``), SET mutations by
their index's first element:

==========================  ===============================================================
``mute``                    ``chats.update`` (``mute_end_time``: ms, -1 forever, 0 unmuted)
``archive``                 ``chats.update`` (``archived``)
``pin_v1``                  ``chats.update`` (``pinned``: ms, 0 unpinned)
``markChatAsRead``          ``chats.update`` (``unread_count``: 0 read, -1 unread)
``clearChat``               ``messages.delete`` (``jid``, ``all=True``)
``deleteChat``              ``chats.delete`` (not from a full sync, as Baileys)
``deleteMessageForMe``      ``messages.delete`` (the key from the index)
``star``                    ``messages.update`` (``starred`` / ``unstarred``)
``contact``                 ``contacts.upsert`` (full name, else first name; its lid)
``setting_pushName``        our push name (``creds.update``)
``setting_locale``          ``settings.update`` (``locale``)
``setting_unarchiveChats``  ``settings.update`` (``unarchiveChats``)
``label_edit``              ``labels.edit``
``label_jid``               ``labels.association`` (a chat)
``label_message``           ``labels.association`` (a message)
==========================  ===============================================================

Writing (whatsmeow ``appstate/encode.go`` Build*, Baileys ``chatModificationToAppPatch``):
each change names its collection, index and action version. Where they disagree,
whatsmeow's choice is taken (``docs/appstate.md``): a star goes to ``regular_high``
(Baileys: ``regular_low``), and archiving also unpins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from wamd.appstate.codec import Mutation, MutationSpec
from wamd.appstate.keys import CollectionName
from wamd.messaging.types import (
    ChatUpdate,
    Contact,
    Label,
    LabelAssociation,
    LabelAssociationUpdate,
    MessageKey,
    MessagesDelete,
    MessageUpdate,
    SettingsUpdate,
)
from wamd.proto import sync_action_pb2

__all__ = [
    "ChangeEvent",
    "PatchRequest",
    "archive",
    "clear_chat",
    "delete_chat",
    "delete_for_me",
    "events_of",
    "label_chat",
    "label_edit",
    "label_message",
    "mark_read",
    "mute",
    "pin",
    "push_name",
    "save_contact",
    "star",
]

Value = sync_action_pb2.SyncActionValue


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """An event to emit for a mutation; ``push_name`` is set for our own new name."""

    name: str
    payload: Any
    push_name: str | None = None


@dataclass(frozen=True, slots=True)
class PatchRequest:
    """One write: the collection it goes to and its mutations."""

    collection: CollectionName
    mutations: tuple[MutationSpec, ...]


# ---------------------------------------------------------------------- reading


def _key(index: tuple[str, ...]) -> MessageKey:
    # [type, chat, message id, from me "1"/"0", participant or "0"]
    participant = index[4] if index[4] != "0" else None
    return MessageKey(index[1], index[3] == "1", index[2], participant)


def events_of(mutation: Mutation, full_sync: bool) -> list[ChangeEvent]:
    """The events one verified mutation raises (none for what wamd does not map)."""
    if mutation.operation != "set" or not mutation.index:
        return []
    index, value = mutation.index, mutation.value
    kind = index[0]
    target = index[1] if len(index) > 1 else ""
    ts = value.timestamp
    if kind == "mute" and target:
        action = value.muteAction
        end = (action.muteEndTimestamp or -1) if action.muted else 0
        return [ChangeEvent("chats.update", [ChatUpdate(target, mute_end_time=end, timestamp=ts)])]
    if kind == "archive" and target:
        archived = value.archiveChatAction.archived
        return [ChangeEvent("chats.update", [ChatUpdate(target, archived=archived, timestamp=ts)])]
    if kind == "pin_v1" and target:
        pinned = (ts or 1) if value.pinAction.pinned else 0
        return [ChangeEvent("chats.update", [ChatUpdate(target, pinned=pinned, timestamp=ts)])]
    if kind == "markChatAsRead" and target:
        unread = 0 if value.markChatAsReadAction.read else -1
        return [
            ChangeEvent("chats.update", [ChatUpdate(target, unread_count=unread, timestamp=ts)])
        ]
    if kind == "clearChat" and target:
        return [ChangeEvent("messages.delete", MessagesDelete(jid=target, all=True))]
    if kind == "deleteChat" and target:
        return [] if full_sync else [ChangeEvent("chats.delete", [target])]
    if kind == "deleteMessageForMe" and len(index) >= 5:
        return [ChangeEvent("messages.delete", MessagesDelete(keys=(_key(index),)))]
    if kind == "star" and len(index) >= 5:
        status: Literal["starred", "unstarred"] = (
            "starred" if value.starAction.starred else "unstarred"
        )
        return [ChangeEvent("messages.update", [MessageUpdate(_key(index), status)])]
    if kind == "contact" and target:
        action_c = value.contactAction
        name = action_c.fullName or action_c.firstName or None
        contact = Contact(target, lid=action_c.lidJID or None, name=name)
        return [ChangeEvent("contacts.upsert", [contact])]
    if kind == "setting_pushName":
        name = value.pushNameSetting.name
        return [ChangeEvent("creds.update", None, push_name=name)] if name else []
    if kind == "setting_locale" and value.localeSetting.locale:
        setting = SettingsUpdate("locale", value.localeSetting.locale)
        return [ChangeEvent("settings.update", setting)]
    if kind == "setting_unarchiveChats":
        flag = value.unarchiveChatsSetting.unarchiveChats
        return [ChangeEvent("settings.update", SettingsUpdate("unarchiveChats", flag))]
    if kind == "label_edit" and target:
        edit = value.labelEditAction
        predefined = str(edit.predefinedID) if edit.HasField("predefinedID") else None
        label = Label(target, edit.name, edit.color, edit.deleted, predefined)
        return [ChangeEvent("labels.edit", label)]
    if kind in ("label_jid", "label_message") and len(index) >= 3:
        how: Literal["add", "remove"] = "add" if value.labelAssociationAction.labeled else "remove"
        message_id = index[3] if kind == "label_message" and len(index) >= 4 else None
        on: Literal["chat", "message"] = "message" if message_id is not None else "chat"
        association = LabelAssociation(on, index[2], index[1], message_id)
        return [ChangeEvent("labels.association", LabelAssociationUpdate(association, how))]
    return []


# ---------------------------------------------------------------------- writing


def _range(last_message_s: int) -> sync_action_pb2.SyncActionMessageRange:
    return sync_action_pb2.SyncActionMessageRange(lastMessageTimestamp=last_message_s)


def mute(jid: str, until_ms: int | None) -> PatchRequest:
    """Mute until ``until_ms`` (ms; -1 forever), or unmute with ``None``."""
    action = sync_action_pb2.MuteAction(muted=until_ms is not None)
    if until_ms is not None:
        action.muteEndTimestamp = until_ms
    spec = MutationSpec(("mute", jid), Value(muteAction=action), 2)
    return PatchRequest("regular_high", (spec,))


def _pin_spec(jid: str, pinned: bool) -> MutationSpec:
    return MutationSpec(
        ("pin_v1", jid), Value(pinAction=sync_action_pb2.PinAction(pinned=pinned)), 5
    )


def pin(jid: str, pinned: bool) -> PatchRequest:
    return PatchRequest("regular_low", (_pin_spec(jid, pinned),))


def archive(jid: str, archived: bool, last_message_s: int) -> PatchRequest:
    action = sync_action_pb2.ArchiveChatAction(
        archived=archived, messageRange=_range(last_message_s)
    )
    specs = [MutationSpec(("archive", jid), Value(archiveChatAction=action), 3)]
    if archived:  # whatsmeow BuildArchive: an archived chat is not pinned
        specs.append(_pin_spec(jid, False))
    return PatchRequest("regular_low", tuple(specs))


def mark_read(jid: str, read: bool, last_message_s: int) -> PatchRequest:
    action = sync_action_pb2.MarkChatAsReadAction(read=read, messageRange=_range(last_message_s))
    spec = MutationSpec(("markChatAsRead", jid), Value(markChatAsReadAction=action), 3)
    return PatchRequest("regular_low", (spec,))


def clear_chat(jid: str, last_message_s: int, keep_starred: bool = False) -> PatchRequest:
    action = sync_action_pb2.ClearChatAction(messageRange=_range(last_message_s))
    index = ("clearChat", jid, "0" if keep_starred else "1", "0")
    return PatchRequest("regular_high", (MutationSpec(index, Value(clearChatAction=action), 6),))


def delete_chat(jid: str, last_message_s: int, delete_media: bool = False) -> PatchRequest:
    action = sync_action_pb2.DeleteChatAction(messageRange=_range(last_message_s))
    index = ("deleteChat", jid, "1" if delete_media else "0")
    return PatchRequest("regular_high", (MutationSpec(index, Value(deleteChatAction=action), 6),))


def _message_index(kind: str, key: MessageKey) -> tuple[str, ...]:
    participant = key.participant if key.participant and not key.from_me else "0"
    return (kind, key.remote_jid, key.id, "1" if key.from_me else "0", participant)


def star(key: MessageKey, starred: bool) -> PatchRequest:
    value = Value(starAction=sync_action_pb2.StarAction(starred=starred))
    return PatchRequest("regular_high", (MutationSpec(_message_index("star", key), value, 2),))


def delete_for_me(key: MessageKey, message_timestamp_s: int) -> PatchRequest:
    action = sync_action_pb2.DeleteMessageForMeAction(
        deleteMedia=False, messageTimestamp=message_timestamp_s
    )
    spec = MutationSpec(
        _message_index("deleteMessageForMe", key), Value(deleteMessageForMeAction=action), 3
    )
    return PatchRequest("regular_high", (spec,))


def save_contact(jid: str, full_name: str | None, first_name: str | None = None) -> PatchRequest:
    """Save (or, with ``full_name=None``, remove) a contact's name."""
    if full_name is None:
        spec = MutationSpec(
            ("contact", jid), Value(contactAction=sync_action_pb2.ContactAction()), 2, "remove"
        )
        return PatchRequest("critical_unblock_low", (spec,))
    action = sync_action_pb2.ContactAction(
        fullName=full_name, firstName=first_name or full_name.split(" ")[0]
    )
    spec = MutationSpec(("contact", jid), Value(contactAction=action), 2)
    return PatchRequest("critical_unblock_low", (spec,))


def push_name(name: str) -> PatchRequest:
    value = Value(pushNameSetting=sync_action_pb2.PushNameSetting(name=name))
    return PatchRequest("critical_block", (MutationSpec(("setting_pushName",), value, 1),))


def label_edit(label_id: str, name: str, color: int, deleted: bool = False) -> PatchRequest:
    action = sync_action_pb2.LabelEditAction(name=name, color=color, deleted=deleted)
    spec = MutationSpec(("label_edit", label_id), Value(labelEditAction=action), 3)
    return PatchRequest("regular", (spec,))


def label_chat(jid: str, label_id: str, labeled: bool) -> PatchRequest:
    action = sync_action_pb2.LabelAssociationAction(labeled=labeled)
    spec = MutationSpec(("label_jid", label_id, jid), Value(labelAssociationAction=action), 3)
    return PatchRequest("regular", (spec,))


def label_message(jid: str, label_id: str, message_id: str, labeled: bool) -> PatchRequest:
    action = sync_action_pb2.LabelAssociationAction(labeled=labeled)
    index = ("label_message", label_id, jid, message_id, "0", "0")
    return PatchRequest("regular", (MutationSpec(index, Value(labelAssociationAction=action), 3),))


def merge(requests: Sequence[PatchRequest]) -> PatchRequest:
    """Several changes to one collection as one patch."""
    names = {r.collection for r in requests}
    if len(names) != 1:
        raise ValueError("changes to several collections cannot share one patch")
    return PatchRequest(requests[0].collection, tuple(m for r in requests for m in r.mutations))
