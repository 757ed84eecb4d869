from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class SignalMessage(_message.Message):
    __slots__ = ("ratchetKey", "counter", "previousCounter", "ciphertext")
    RATCHETKEY_FIELD_NUMBER: _ClassVar[int]
    COUNTER_FIELD_NUMBER: _ClassVar[int]
    PREVIOUSCOUNTER_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    ratchetKey: bytes
    counter: int
    previousCounter: int
    ciphertext: bytes
    def __init__(self, ratchetKey: _Optional[bytes] = ..., counter: _Optional[int] = ..., previousCounter: _Optional[int] = ..., ciphertext: _Optional[bytes] = ...) -> None: ...

class PreKeySignalMessage(_message.Message):
    __slots__ = ("preKeyId", "baseKey", "identityKey", "message", "registrationId", "signedPreKeyId")
    PREKEYID_FIELD_NUMBER: _ClassVar[int]
    BASEKEY_FIELD_NUMBER: _ClassVar[int]
    IDENTITYKEY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REGISTRATIONID_FIELD_NUMBER: _ClassVar[int]
    SIGNEDPREKEYID_FIELD_NUMBER: _ClassVar[int]
    preKeyId: int
    baseKey: bytes
    identityKey: bytes
    message: bytes
    registrationId: int
    signedPreKeyId: int
    def __init__(self, preKeyId: _Optional[int] = ..., baseKey: _Optional[bytes] = ..., identityKey: _Optional[bytes] = ..., message: _Optional[bytes] = ..., registrationId: _Optional[int] = ..., signedPreKeyId: _Optional[int] = ...) -> None: ...

class SenderKeyMessage(_message.Message):
    __slots__ = ("id", "iteration", "ciphertext")
    ID_FIELD_NUMBER: _ClassVar[int]
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    id: int
    iteration: int
    ciphertext: bytes
    def __init__(self, id: _Optional[int] = ..., iteration: _Optional[int] = ..., ciphertext: _Optional[bytes] = ...) -> None: ...

class SenderKeyDistributionMessage(_message.Message):
    __slots__ = ("id", "iteration", "chainKey", "signingKey")
    ID_FIELD_NUMBER: _ClassVar[int]
    ITERATION_FIELD_NUMBER: _ClassVar[int]
    CHAINKEY_FIELD_NUMBER: _ClassVar[int]
    SIGNINGKEY_FIELD_NUMBER: _ClassVar[int]
    id: int
    iteration: int
    chainKey: bytes
    signingKey: bytes
    def __init__(self, id: _Optional[int] = ..., iteration: _Optional[int] = ..., chainKey: _Optional[bytes] = ..., signingKey: _Optional[bytes] = ...) -> None: ...
