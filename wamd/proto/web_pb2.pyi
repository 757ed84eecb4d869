from wamd.proto import common_pb2 as _common_pb2
from wamd.proto import e2e_pb2 as _e2e_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WebMessageInfo(_message.Message):
    __slots__ = ("key", "message", "messageTimestamp", "status", "participant", "messageC2STimestamp", "ignore", "starred", "broadcast", "pushName", "mediaCiphertextSHA256", "multicast", "urlText", "urlNumber", "messageStubType", "clearMedia", "messageStubParameters", "duration", "labels", "ephemeralStartTimestamp", "ephemeralDuration", "ephemeralOffToOn", "ephemeralOutOfSync", "verifiedBizName", "userReceipt", "reactions", "futureproofData", "agentID", "statusAlreadyViewed", "messageSecret", "originalSelfAuthorUserJIDString", "revokeMessageTimestamp")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ERROR: _ClassVar[WebMessageInfo.Status]
        PENDING: _ClassVar[WebMessageInfo.Status]
        SERVER_ACK: _ClassVar[WebMessageInfo.Status]
        DELIVERY_ACK: _ClassVar[WebMessageInfo.Status]
        READ: _ClassVar[WebMessageInfo.Status]
        PLAYED: _ClassVar[WebMessageInfo.Status]
    ERROR: WebMessageInfo.Status
    PENDING: WebMessageInfo.Status
    SERVER_ACK: WebMessageInfo.Status
    DELIVERY_ACK: WebMessageInfo.Status
    READ: WebMessageInfo.Status
    PLAYED: WebMessageInfo.Status
    class StubType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        UNKNOWN: _ClassVar[WebMessageInfo.StubType]
        REVOKE: _ClassVar[WebMessageInfo.StubType]
        CIPHERTEXT: _ClassVar[WebMessageInfo.StubType]
        FUTUREPROOF: _ClassVar[WebMessageInfo.StubType]
        GROUP_CREATE: _ClassVar[WebMessageInfo.StubType]
        GROUP_CHANGE_SUBJECT: _ClassVar[WebMessageInfo.StubType]
        GROUP_CHANGE_ICON: _ClassVar[WebMessageInfo.StubType]
        GROUP_CHANGE_INVITE_LINK: _ClassVar[WebMessageInfo.StubType]
        GROUP_CHANGE_DESCRIPTION: _ClassVar[WebMessageInfo.StubType]
        GROUP_CHANGE_RESTRICT: _ClassVar[WebMessageInfo.StubType]
        GROUP_CHANGE_ANNOUNCE: _ClassVar[WebMessageInfo.StubType]
        GROUP_PARTICIPANT_ADD: _ClassVar[WebMessageInfo.StubType]
        GROUP_PARTICIPANT_REMOVE: _ClassVar[WebMessageInfo.StubType]
        GROUP_PARTICIPANT_PROMOTE: _ClassVar[WebMessageInfo.StubType]
        GROUP_PARTICIPANT_DEMOTE: _ClassVar[WebMessageInfo.StubType]
        GROUP_PARTICIPANT_INVITE: _ClassVar[WebMessageInfo.StubType]
        GROUP_PARTICIPANT_LEAVE: _ClassVar[WebMessageInfo.StubType]
        GROUP_PARTICIPANT_CHANGE_NUMBER: _ClassVar[WebMessageInfo.StubType]
        GENERIC_NOTIFICATION: _ClassVar[WebMessageInfo.StubType]
        E2E_IDENTITY_CHANGED: _ClassVar[WebMessageInfo.StubType]
    UNKNOWN: WebMessageInfo.StubType
    REVOKE: WebMessageInfo.StubType
    CIPHERTEXT: WebMessageInfo.StubType
    FUTUREPROOF: WebMessageInfo.StubType
    GROUP_CREATE: WebMessageInfo.StubType
    GROUP_CHANGE_SUBJECT: WebMessageInfo.StubType
    GROUP_CHANGE_ICON: WebMessageInfo.StubType
    GROUP_CHANGE_INVITE_LINK: WebMessageInfo.StubType
    GROUP_CHANGE_DESCRIPTION: WebMessageInfo.StubType
    GROUP_CHANGE_RESTRICT: WebMessageInfo.StubType
    GROUP_CHANGE_ANNOUNCE: WebMessageInfo.StubType
    GROUP_PARTICIPANT_ADD: WebMessageInfo.StubType
    GROUP_PARTICIPANT_REMOVE: WebMessageInfo.StubType
    GROUP_PARTICIPANT_PROMOTE: WebMessageInfo.StubType
    GROUP_PARTICIPANT_DEMOTE: WebMessageInfo.StubType
    GROUP_PARTICIPANT_INVITE: WebMessageInfo.StubType
    GROUP_PARTICIPANT_LEAVE: WebMessageInfo.StubType
    GROUP_PARTICIPANT_CHANGE_NUMBER: WebMessageInfo.StubType
    GENERIC_NOTIFICATION: WebMessageInfo.StubType
    E2E_IDENTITY_CHANGED: WebMessageInfo.StubType
    KEY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    MESSAGETIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    MESSAGEC2STIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    IGNORE_FIELD_NUMBER: _ClassVar[int]
    STARRED_FIELD_NUMBER: _ClassVar[int]
    BROADCAST_FIELD_NUMBER: _ClassVar[int]
    PUSHNAME_FIELD_NUMBER: _ClassVar[int]
    MEDIACIPHERTEXTSHA256_FIELD_NUMBER: _ClassVar[int]
    MULTICAST_FIELD_NUMBER: _ClassVar[int]
    URLTEXT_FIELD_NUMBER: _ClassVar[int]
    URLNUMBER_FIELD_NUMBER: _ClassVar[int]
    MESSAGESTUBTYPE_FIELD_NUMBER: _ClassVar[int]
    CLEARMEDIA_FIELD_NUMBER: _ClassVar[int]
    MESSAGESTUBPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    EPHEMERALSTARTTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    EPHEMERALDURATION_FIELD_NUMBER: _ClassVar[int]
    EPHEMERALOFFTOON_FIELD_NUMBER: _ClassVar[int]
    EPHEMERALOUTOFSYNC_FIELD_NUMBER: _ClassVar[int]
    VERIFIEDBIZNAME_FIELD_NUMBER: _ClassVar[int]
    USERRECEIPT_FIELD_NUMBER: _ClassVar[int]
    REACTIONS_FIELD_NUMBER: _ClassVar[int]
    FUTUREPROOFDATA_FIELD_NUMBER: _ClassVar[int]
    AGENTID_FIELD_NUMBER: _ClassVar[int]
    STATUSALREADYVIEWED_FIELD_NUMBER: _ClassVar[int]
    MESSAGESECRET_FIELD_NUMBER: _ClassVar[int]
    ORIGINALSELFAUTHORUSERJIDSTRING_FIELD_NUMBER: _ClassVar[int]
    REVOKEMESSAGETIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    key: _common_pb2.MessageKey
    message: _e2e_pb2.Message
    messageTimestamp: int
    status: WebMessageInfo.Status
    participant: str
    messageC2STimestamp: int
    ignore: bool
    starred: bool
    broadcast: bool
    pushName: str
    mediaCiphertextSHA256: bytes
    multicast: bool
    urlText: bool
    urlNumber: bool
    messageStubType: WebMessageInfo.StubType
    clearMedia: bool
    messageStubParameters: _containers.RepeatedScalarFieldContainer[str]
    duration: int
    labels: _containers.RepeatedScalarFieldContainer[str]
    ephemeralStartTimestamp: int
    ephemeralDuration: int
    ephemeralOffToOn: bool
    ephemeralOutOfSync: bool
    verifiedBizName: str
    userReceipt: _containers.RepeatedCompositeFieldContainer[UserReceipt]
    reactions: _containers.RepeatedCompositeFieldContainer[Reaction]
    futureproofData: bytes
    agentID: str
    statusAlreadyViewed: bool
    messageSecret: bytes
    originalSelfAuthorUserJIDString: str
    revokeMessageTimestamp: int
    def __init__(self, key: _Optional[_Union[_common_pb2.MessageKey, _Mapping]] = ..., message: _Optional[_Union[_e2e_pb2.Message, _Mapping]] = ..., messageTimestamp: _Optional[int] = ..., status: _Optional[_Union[WebMessageInfo.Status, str]] = ..., participant: _Optional[str] = ..., messageC2STimestamp: _Optional[int] = ..., ignore: _Optional[bool] = ..., starred: _Optional[bool] = ..., broadcast: _Optional[bool] = ..., pushName: _Optional[str] = ..., mediaCiphertextSHA256: _Optional[bytes] = ..., multicast: _Optional[bool] = ..., urlText: _Optional[bool] = ..., urlNumber: _Optional[bool] = ..., messageStubType: _Optional[_Union[WebMessageInfo.StubType, str]] = ..., clearMedia: _Optional[bool] = ..., messageStubParameters: _Optional[_Iterable[str]] = ..., duration: _Optional[int] = ..., labels: _Optional[_Iterable[str]] = ..., ephemeralStartTimestamp: _Optional[int] = ..., ephemeralDuration: _Optional[int] = ..., ephemeralOffToOn: _Optional[bool] = ..., ephemeralOutOfSync: _Optional[bool] = ..., verifiedBizName: _Optional[str] = ..., userReceipt: _Optional[_Iterable[_Union[UserReceipt, _Mapping]]] = ..., reactions: _Optional[_Iterable[_Union[Reaction, _Mapping]]] = ..., futureproofData: _Optional[bytes] = ..., agentID: _Optional[str] = ..., statusAlreadyViewed: _Optional[bool] = ..., messageSecret: _Optional[bytes] = ..., originalSelfAuthorUserJIDString: _Optional[str] = ..., revokeMessageTimestamp: _Optional[int] = ...) -> None: ...

class UserReceipt(_message.Message):
    __slots__ = ("userJID", "receiptTimestamp", "readTimestamp", "playedTimestamp", "pendingDeviceJID", "deliveredDeviceJID")
    USERJID_FIELD_NUMBER: _ClassVar[int]
    RECEIPTTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    READTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PLAYEDTIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PENDINGDEVICEJID_FIELD_NUMBER: _ClassVar[int]
    DELIVEREDDEVICEJID_FIELD_NUMBER: _ClassVar[int]
    userJID: str
    receiptTimestamp: int
    readTimestamp: int
    playedTimestamp: int
    pendingDeviceJID: _containers.RepeatedScalarFieldContainer[str]
    deliveredDeviceJID: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, userJID: _Optional[str] = ..., receiptTimestamp: _Optional[int] = ..., readTimestamp: _Optional[int] = ..., playedTimestamp: _Optional[int] = ..., pendingDeviceJID: _Optional[_Iterable[str]] = ..., deliveredDeviceJID: _Optional[_Iterable[str]] = ...) -> None: ...

class Reaction(_message.Message):
    __slots__ = ("key", "text", "groupingKey", "senderTimestampMS", "unread")
    KEY_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    GROUPINGKEY_FIELD_NUMBER: _ClassVar[int]
    SENDERTIMESTAMPMS_FIELD_NUMBER: _ClassVar[int]
    UNREAD_FIELD_NUMBER: _ClassVar[int]
    key: _common_pb2.MessageKey
    text: str
    groupingKey: str
    senderTimestampMS: int
    unread: bool
    def __init__(self, key: _Optional[_Union[_common_pb2.MessageKey, _Mapping]] = ..., text: _Optional[str] = ..., groupingKey: _Optional[str] = ..., senderTimestampMS: _Optional[int] = ..., unread: _Optional[bool] = ...) -> None: ...
