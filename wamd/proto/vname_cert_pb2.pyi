from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LocalizedName(_message.Message):
    __slots__ = ("lg", "lc", "verifiedName")
    LG_FIELD_NUMBER: _ClassVar[int]
    LC_FIELD_NUMBER: _ClassVar[int]
    VERIFIEDNAME_FIELD_NUMBER: _ClassVar[int]
    lg: str
    lc: str
    verifiedName: str
    def __init__(self, lg: _Optional[str] = ..., lc: _Optional[str] = ..., verifiedName: _Optional[str] = ...) -> None: ...

class VerifiedNameCertificate(_message.Message):
    __slots__ = ("details", "signature", "serverSignature")
    class Details(_message.Message):
        __slots__ = ("serial", "issuer", "verifiedName", "localizedNames", "issueTime")
        SERIAL_FIELD_NUMBER: _ClassVar[int]
        ISSUER_FIELD_NUMBER: _ClassVar[int]
        VERIFIEDNAME_FIELD_NUMBER: _ClassVar[int]
        LOCALIZEDNAMES_FIELD_NUMBER: _ClassVar[int]
        ISSUETIME_FIELD_NUMBER: _ClassVar[int]
        serial: int
        issuer: str
        verifiedName: str
        localizedNames: _containers.RepeatedCompositeFieldContainer[LocalizedName]
        issueTime: int
        def __init__(self, serial: _Optional[int] = ..., issuer: _Optional[str] = ..., verifiedName: _Optional[str] = ..., localizedNames: _Optional[_Iterable[_Union[LocalizedName, _Mapping]]] = ..., issueTime: _Optional[int] = ...) -> None: ...
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    SERVERSIGNATURE_FIELD_NUMBER: _ClassVar[int]
    details: bytes
    signature: bytes
    serverSignature: bytes
    def __init__(self, details: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., serverSignature: _Optional[bytes] = ...) -> None: ...
