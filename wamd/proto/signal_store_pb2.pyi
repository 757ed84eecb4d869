from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MessageKeys(_message.Message):
    __slots__ = ("index", "cipherKey", "macKey", "iv")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    CIPHERKEY_FIELD_NUMBER: _ClassVar[int]
    MACKEY_FIELD_NUMBER: _ClassVar[int]
    IV_FIELD_NUMBER: _ClassVar[int]
    index: int
    cipherKey: bytes
    macKey: bytes
    iv: bytes
    def __init__(self, index: _Optional[int] = ..., cipherKey: _Optional[bytes] = ..., macKey: _Optional[bytes] = ..., iv: _Optional[bytes] = ...) -> None: ...

class Chain(_message.Message):
    __slots__ = ("ratchetPublic", "ratchetPrivate", "index", "chainKey", "skipped")
    RATCHETPUBLIC_FIELD_NUMBER: _ClassVar[int]
    RATCHETPRIVATE_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    CHAINKEY_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    ratchetPublic: bytes
    ratchetPrivate: bytes
    index: int
    chainKey: bytes
    skipped: _containers.RepeatedCompositeFieldContainer[MessageKeys]
    def __init__(self, ratchetPublic: _Optional[bytes] = ..., ratchetPrivate: _Optional[bytes] = ..., index: _Optional[int] = ..., chainKey: _Optional[bytes] = ..., skipped: _Optional[_Iterable[_Union[MessageKeys, _Mapping]]] = ...) -> None: ...

class PendingPreKey(_message.Message):
    __slots__ = ("hasPreKeyId", "preKeyId", "signedPreKeyId", "baseKey")
    HASPREKEYID_FIELD_NUMBER: _ClassVar[int]
    PREKEYID_FIELD_NUMBER: _ClassVar[int]
    SIGNEDPREKEYID_FIELD_NUMBER: _ClassVar[int]
    BASEKEY_FIELD_NUMBER: _ClassVar[int]
    hasPreKeyId: bool
    preKeyId: int
    signedPreKeyId: int
    baseKey: bytes
    def __init__(self, hasPreKeyId: _Optional[bool] = ..., preKeyId: _Optional[int] = ..., signedPreKeyId: _Optional[int] = ..., baseKey: _Optional[bytes] = ...) -> None: ...

class SessionState(_message.Message):
    __slots__ = ("localIdentity", "remoteIdentity", "rootKey", "previousCounter", "senderChain", "receiverChains", "pendingPreKey", "remoteRegistrationId", "localRegistrationId", "aliceBaseKey")
    LOCALIDENTITY_FIELD_NUMBER: _ClassVar[int]
    REMOTEIDENTITY_FIELD_NUMBER: _ClassVar[int]
    ROOTKEY_FIELD_NUMBER: _ClassVar[int]
    PREVIOUSCOUNTER_FIELD_NUMBER: _ClassVar[int]
    SENDERCHAIN_FIELD_NUMBER: _ClassVar[int]
    RECEIVERCHAINS_FIELD_NUMBER: _ClassVar[int]
    PENDINGPREKEY_FIELD_NUMBER: _ClassVar[int]
    REMOTEREGISTRATIONID_FIELD_NUMBER: _ClassVar[int]
    LOCALREGISTRATIONID_FIELD_NUMBER: _ClassVar[int]
    ALICEBASEKEY_FIELD_NUMBER: _ClassVar[int]
    localIdentity: bytes
    remoteIdentity: bytes
    rootKey: bytes
    previousCounter: int
    senderChain: Chain
    receiverChains: _containers.RepeatedCompositeFieldContainer[Chain]
    pendingPreKey: PendingPreKey
    remoteRegistrationId: int
    localRegistrationId: int
    aliceBaseKey: bytes
    def __init__(self, localIdentity: _Optional[bytes] = ..., remoteIdentity: _Optional[bytes] = ..., rootKey: _Optional[bytes] = ..., previousCounter: _Optional[int] = ..., senderChain: _Optional[_Union[Chain, _Mapping]] = ..., receiverChains: _Optional[_Iterable[_Union[Chain, _Mapping]]] = ..., pendingPreKey: _Optional[_Union[PendingPreKey, _Mapping]] = ..., remoteRegistrationId: _Optional[int] = ..., localRegistrationId: _Optional[int] = ..., aliceBaseKey: _Optional[bytes] = ...) -> None: ...

class SessionRecord(_message.Message):
    __slots__ = ("version", "current", "previous")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_FIELD_NUMBER: _ClassVar[int]
    version: int
    current: SessionState
    previous: _containers.RepeatedCompositeFieldContainer[SessionState]
    def __init__(self, version: _Optional[int] = ..., current: _Optional[_Union[SessionState, _Mapping]] = ..., previous: _Optional[_Iterable[_Union[SessionState, _Mapping]]] = ...) -> None: ...

class SenderMessageKey(_message.Message):
    __slots__ = ("iteration", "seed")
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    iteration: int
    seed: bytes
    def __init__(self, iteration: _Optional[int] = ..., seed: _Optional[bytes] = ...) -> None: ...

class SenderKeyState(_message.Message):
    __slots__ = ("keyId", "iteration", "chainKey", "signingPublic", "signingPrivate", "skipped")
    KEYID_FIELD_NUMBER: _ClassVar[int]
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    CHAINKEY_FIELD_NUMBER: _ClassVar[int]
    SIGNINGPUBLIC_FIELD_NUMBER: _ClassVar[int]
    SIGNINGPRIVATE_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_FIELD_NUMBER: _ClassVar[int]
    keyId: int
    iteration: int
    chainKey: bytes
    signingPublic: bytes
    signingPrivate: bytes
    skipped: _containers.RepeatedCompositeFieldContainer[SenderMessageKey]
    def __init__(self, keyId: _Optional[int] = ..., iteration: _Optional[int] = ..., chainKey: _Optional[bytes] = ..., signingPublic: _Optional[bytes] = ..., signingPrivate: _Optional[bytes] = ..., skipped: _Optional[_Iterable[_Union[SenderMessageKey, _Mapping]]] = ...) -> None: ...

class SenderKeyRecord(_message.Message):
    __slots__ = ("version", "states")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATES_FIELD_NUMBER: _ClassVar[int]
    version: int
    states: _containers.RepeatedCompositeFieldContainer[SenderKeyState]
    def __init__(self, version: _Optional[int] = ..., states: _Optional[_Iterable[_Union[SenderKeyState, _Mapping]]] = ...) -> None: ...
