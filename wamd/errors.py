"""The error types of wamd.

Every failure that crosses a public API boundary is one of these. Bad input from the
network, a file or the caller raises a specific subclass whose message names *what* was
wrong (a field, a byte offset, a file name) but never carries key material or raw frames.

The tree::

    WamdError
    ├── ProtocolError            the peer broke the protocol
    │   ├── DecodeError          bytes that do not parse (binary node, protobuf, frame)
    │   ├── HandshakeError       Noise handshake / certificate chain failure
    │   │   └── CertificateError the server's certificate chain does not verify (permanent)
    │   ├── PairingError         pairing could not complete (forged pair-success, bad code ...)
    │   └── AppStateError        an app-state (syncd) collection could not be applied
    │       ├── AppStateMacMismatch   an index, value, snapshot or patch MAC does not verify
    │       ├── AppStateKeyMissing    a mutation names an app-state key we do not hold
    │       └── AppStateConflict      the server kept refusing a write (409 after a retry)
    ├── SignalError              end-to-end encryption layer
    │   ├── UntrustedIdentity    a peer device's identity key changed
    │   ├── NoSession            no session with that device
    │   ├── InvalidMessage       MAC / signature / format failure of a Signal message
    │   │   ├── BadMac           the message's MAC does not verify (wrong or stale session)
    │   │   ├── MalformedMessage the message (or its enc node) does not parse
    │   │   └── TooFarAhead      the message is more than MAX_SKIP ahead of its chain
    │   ├── InvalidKey           a key of the wrong size or type, a bad signature on a key
    │   └── DuplicateMessage     a message that was already decrypted
    ├── StoreError               auth state / key store
    │   ├── CorruptedStore       a file or row that cannot be read back (names it)
    │   ├── StoreFailed          the store failed while connected: the connection closed
    │   └── PreKeyIdInUse        a new one-time prekey would overwrite a stored one
    ├── RequestError             an iq answered with an error (carries the code)
    │   ├── NotAuthorized        401: not allowed (not a group admin, ...)
    │   ├── Forbidden            403: not a member, or blocked
    │   ├── ItemNotFound         404: no such group, user, invite or request
    │   ├── NotAcceptable        406: a value the server does not accept (bad invite code ...)
    │   ├── Conflict             409: already so (a member already in a group ...)
    │   └── Gone                 410: no longer valid (a revoked invite link)
    ├── NoPushName               presence needs our push name, and none is known
    ├── InvalidPhoneNumber       not a phone number in international form (also a ValueError)
    ├── RequestTimeout           an iq not answered in time
    ├── ConnectionClosed         the connection ended (carries a DisconnectReason)
    ├── SendError                the server refused a message (its ack carried an error)
    ├── ContentError             send_message content that cannot become a message
    │                            (also a ValueError)
    ├── MediaError               media: upload, download, integrity, re-upload (wamd.media)
    │   ├── NotMedia             the message has nothing to download (also a ValueError)
    │   ├── MediaSourceError     the file or stream to send cannot be read (names it)
    │   ├── MediaUploadError     every upload host failed (``status``: the last HTTP status)
    │   ├── MediaDownloadError   the blob could not be fetched (``status`` when HTTP said no)
    │   │   └── MediaUnavailable 403/404/410: the server will not serve it (``expired``)
    │   ├── MediaIntegrityError  a downloaded blob failed a check (``check`` names which)
    │   └── MediaRetryError      the phone could not re-upload expired media (``result``)
    ├── VersionLookupError       the current WhatsApp Web version could not be looked up
    ├── EmitterClosed            the event emitter closed while something waited on it
    ├── SimError                 wamd.sim: a scripted action the real service would refuse
    └── FleetError               wamd.fleet: a bad account name, an unknown account, a fleet
                                 database that cannot be used (names what)

The classes are also importable from the modules that raise them (``wamd.client.send``,
``wamd.client.content``, ``wamd.client.version``, ``wamd.events``, ``wamd.sim``), where
they were defined before.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "AppStateConflict",
    "AppStateError",
    "AppStateKeyMissing",
    "AppStateMacMismatch",
    "BadMac",
    "CertificateError",
    "Conflict",
    "ConnectionClosed",
    "ContentError",
    "ControlError",
    "CorruptedStore",
    "DecodeError",
    "DisconnectReason",
    "DuplicateMessage",
    "EmitterClosed",
    "FleetError",
    "Forbidden",
    "Gone",
    "HandshakeError",
    "InvalidKey",
    "InvalidMessage",
    "InvalidPhoneNumber",
    "ItemNotFound",
    "MalformedMessage",
    "MediaDownloadError",
    "MediaError",
    "MediaIntegrityError",
    "MediaRetryError",
    "MediaSourceError",
    "MediaUnavailable",
    "MediaUploadError",
    "NoPushName",
    "NoSession",
    "NotAcceptable",
    "NotAuthorized",
    "NotMedia",
    "PairingError",
    "PreKeyIdInUse",
    "ProtocolError",
    "RequestError",
    "RequestTimeout",
    "SendError",
    "SignalError",
    "SimError",
    "StoreError",
    "StoreFailed",
    "TooFarAhead",
    "UntrustedIdentity",
    "VersionLookupError",
    "WamdError",
    "explain_request_error",
    "request_error",
]


class DisconnectReason(IntEnum):
    """Why a connection ended, numbered as Baileys numbers them.

    Baileys maps WhatsApp's stream errors and local failures onto HTTP-like codes; users
    compare ``update.last_disconnect.status_code`` with these, so the numbers are kept.
    ``CONNECTION_LOST`` and ``TIMED_OUT`` share 408 (an alias, as in Baileys).
    """

    CONNECTION_CLOSED = 428
    CONNECTION_LOST = 408
    TIMED_OUT = 408
    CONNECTION_REPLACED = 440
    LOGGED_OUT = 401
    BAD_SESSION = 500
    RESTART_REQUIRED = 515
    MULTIDEVICE_MISMATCH = 411
    FORBIDDEN = 403
    UNAVAILABLE_SERVICE = 503
    CLIENT_OUTDATED = 405


class WamdError(Exception):
    """Base class of every error wamd raises on purpose."""


class ProtocolError(WamdError):
    """The other side sent something the protocol does not allow."""


class DecodeError(ProtocolError):
    """Bytes that do not parse: a binary node, a frame, a protobuf message."""


class HandshakeError(ProtocolError):
    """The Noise handshake or the server certificate check failed."""


class CertificateError(HandshakeError):
    """The server's certificate chain does not verify against the pinned root key.

    The chain arrives authenticated inside the Noise handshake, so this is not line noise:
    the pinned root key (``server_root_key``) or serial is wrong for this server, or the
    server is not who it claims to be. Reconnecting cannot help; ``run_forever`` stops.
    """


class PairingError(ProtocolError):
    """Linking as a companion device failed (forged pair-success, refused code ...).

    ``code``/``text`` are what a companion answers the server with when it refuses a
    pair-success (for example 401 ``hmac-mismatch``).
    """

    def __init__(self, message: str, *, code: int = 500, text: str = "internal-error") -> None:
        self.code = code
        self.text = text
        super().__init__(message)


class AppStateError(ProtocolError):
    """An app-state collection (``critical_block``, ``regular`` ...) could not be applied.

    ``collection`` names it when known. The client logs it, leaves that collection's
    stored state as it was and fetches the collection again from a snapshot; the other
    collections and the connection go on.
    """

    def __init__(self, message: str, collection: str | None = None) -> None:
        super().__init__(message)
        self.collection = collection


class AppStateMacMismatch(AppStateError):
    """A MAC of an app-state patch or snapshot does not verify.

    ``kind`` is ``"index"``, ``"value"``, ``"snapshot"`` or ``"patch"``; ``version`` the
    collection version it was checked for.
    """

    def __init__(self, kind: str, collection: str, version: int, detail: str = "") -> None:
        text = f"app state {collection} v{version}: the {kind} MAC does not verify"
        super().__init__(f"{text} ({detail})" if detail else text, collection)
        self.kind = kind
        self.version = version


class AppStateKeyMissing(AppStateError):
    """A patch or snapshot is encrypted with an app-state key we were never given.

    ``key_ids`` are the raw ids (not secret: ids, not keys); the client asks its phone
    for them (``APP_STATE_SYNC_KEY_REQUEST``).
    """

    def __init__(self, key_ids: tuple[bytes, ...], collection: str | None = None) -> None:
        names = ", ".join(k.hex() for k in key_ids)
        super().__init__(f"app state key(s) {names} not held", collection)
        self.key_ids = key_ids


class AppStateConflict(AppStateError):
    """A write was refused again (409) after the server's newer patches were applied."""


class SignalError(WamdError):
    """Failure in the Signal (end-to-end encryption) layer."""


class UntrustedIdentity(SignalError):
    """A peer device presented an identity key other than the one we stored for it."""

    def __init__(self, address: str, message: str | None = None) -> None:
        self.address = address
        super().__init__(message or f"identity key of {address} changed")


class NoSession(SignalError):
    """There is no Signal session with the device a message came from or goes to."""


class InvalidMessage(SignalError):
    """A Signal message failed its MAC or signature check, or is malformed."""


class BadMac(InvalidMessage):
    """The message's MAC does not verify under any session state we hold for its sender.

    The usual cause is a session the sender no longer has (it reset, or our copy is
    stale); the answer is a retry receipt, as for any ``InvalidMessage``.
    """


class MalformedMessage(InvalidMessage):
    """A Signal message, or the ``enc`` node carrying it, does not parse."""


class TooFarAhead(InvalidMessage):
    """The message's counter is more than ``MAX_SKIP`` ahead of its chain (libsignal: 2000)."""


class InvalidKey(SignalError):
    """A key of the wrong length or type, or a key whose signature does not verify."""


class DuplicateMessage(SignalError):
    """A message whose key was already used: it was decrypted before."""


class StoreError(WamdError):
    """The auth state or key store failed."""


class CorruptedStore(StoreError):
    """Stored data could not be read back. ``location`` names the file or row.

    ``key_type`` and ``key_id`` name the key when the damage is in one key's value (a
    session, a prekey...), so that the client can set that one aside and recover it.
    """

    def __init__(
        self,
        location: str,
        reason: str,
        *,
        key_type: str | None = None,
        key_id: str | None = None,
    ) -> None:
        self.location = location
        self.reason = reason
        self.key_type = key_type
        self.key_id = key_id
        super().__init__(f"{location}: {reason}")

    def about(self, key_type: str, key_id: str) -> CorruptedStore:
        """This error, naming the key it is about unless it names one already."""
        if self.key_type is None:
            self.key_type, self.key_id = key_type, key_id
        return self


class StoreFailed(StoreError):
    """The auth state failed while the connection ran (it could not be written, or a
    damaged key could not be set aside): the connection was closed without acknowledging
    what could not be committed, and ``run_forever`` stops. ``cause`` is the failure."""

    def __init__(self, message: str, *, cause: BaseException | None = None) -> None:
        self.cause = cause
        super().__init__(message)


class PreKeyIdInUse(StoreError):
    """A one-time prekey would be written over a different stored one: its id was reused.

    The stored private key may belong to a public key already uploaded; overwriting it
    would make every message sent to that prekey undecryptable. Every key store refuses
    the write (the whole transaction). ``ids`` are the prekey ids, as stored (decimal).
    """

    def __init__(self, ids: tuple[str, ...]) -> None:
        self.ids = ids
        shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
        super().__init__(f"prekey ids already hold a different key: {shown}")


class RequestError(WamdError):
    """An ``iq`` request was answered with an error node."""

    def __init__(self, code: int, text: str = "", message: str | None = None) -> None:
        self.code = code
        self.text = text
        super().__init__(message or f"request failed with error {code} {text}".rstrip())


class NotAuthorized(RequestError):
    """401 ``not-authorized``: the account may not do this (e.g. it is not a group admin)."""


class Forbidden(RequestError):
    """403 ``forbidden``: not a member of the group, or refused by the other user."""


class ItemNotFound(RequestError):
    """404 ``item-not-found``: no such group, user, invite code or join request."""


class NotAcceptable(RequestError):
    """406 ``not-acceptable``: a value the server refuses (a malformed invite code ...)."""


class Conflict(RequestError):
    """409 ``conflict``: it is already so (a member added twice, a pending request ...)."""


class Gone(RequestError):
    """410 ``gone``: no longer valid (a revoked invite link)."""


_REQUEST_ERRORS: dict[int, type[RequestError]] = {
    401: NotAuthorized,
    403: Forbidden,
    404: ItemNotFound,
    406: NotAcceptable,
    409: Conflict,
    410: Gone,
}


def request_error(code: int, text: str = "") -> RequestError:
    """The ``RequestError`` (subclass, for the codes above) of an ``<error code text>``."""
    return _REQUEST_ERRORS.get(code, RequestError)(code, text)


def explain_request_error(error: RequestError, message: str) -> RequestError:
    """``error`` as the ``RequestError`` subclass for its code, with ``message`` (which
    says what was asked and why it failed) in front of the server's code and text."""
    cls = _REQUEST_ERRORS.get(error.code, RequestError)
    detail = f"{error.code} {error.text}".strip()
    return cls(error.code, error.text, f"{message} (server answered {detail})")


class NoPushName(WamdError):
    """Presence (online/offline) is announced with our push name, and none is known:
    give ``make_wa_socket(push_name=...)`` or call ``set_push_name``."""


class InvalidPhoneNumber(WamdError, ValueError):
    """Not a phone number in international form (country code and number, 5-15 digits)."""


class RequestTimeout(WamdError):
    """An ``iq`` request got no answer in time."""


class ConnectionClosed(WamdError):
    """The connection to the server ended; ``reason`` says why."""

    def __init__(self, reason: DisconnectReason | int, message: str = "") -> None:
        self.status_code = int(reason)
        try:
            self.reason: DisconnectReason | None = DisconnectReason(int(reason))
        except ValueError:
            self.reason = None
        name = self.reason.name.lower() if self.reason is not None else "unknown"
        super().__init__(message or f"connection closed ({self.status_code} {name})")


_SEND_ERRORS = {
    "463": "no privacy token for this contact: an account that may not start new chats "
    "writes only to those who wrote first; wamd issued its token, it does not retry",
    "479": "the server found the stanza invalid (stale devices or addressing)",
    "403": "not allowed to post there: not a member of the group, or an announcement "
    "group where only admins send messages",
}


class SendError(WamdError):
    """The server refused a message (its ack carried an error code)."""

    def __init__(self, message_id: str, code: str) -> None:
        why = _SEND_ERRORS.get(code)
        super().__init__(
            f"the server refused message {message_id}: error {code}" + (f" ({why})" if why else "")
        )
        self.message_id = message_id
        self.code = code


class ContentError(WamdError, ValueError):
    """The content given to ``send_message`` cannot be turned into a message.

    Also a ``ValueError``, as it was before it joined this tree: the content is a bad
    argument, and code written against earlier versions (or catching bad arguments
    generally) keeps catching it.
    """


class MediaError(WamdError):
    """Media could not be sent or received (``wamd.media``). Messages never carry keys."""


class NotMedia(MediaError, ValueError):
    """The message has no downloadable media (no media field, or no direct path/key)."""


class MediaSourceError(MediaError):
    """What was given to send (bytes, a path, a stream) cannot be read, or is too large."""


class MediaUploadError(MediaError):
    """The upload failed on every host. ``status`` is the last HTTP status (``None``:
    network error); ``413`` means the blob is over the server's limit for its type."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class MediaDownloadError(MediaError):
    """The blob could not be fetched from any host. ``status`` is the HTTP status when
    the server answered with an error, ``None`` for network failures."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class MediaUnavailable(MediaDownloadError):
    """The server refused the blob with 403, 404 or 410 (whatsmeow does not retry these).

    ``expired`` (404, 410) means the media is gone from the server; the sender's phone
    can upload it again (``download_media`` asks it to, with a media-retry receipt)."""

    @property
    def expired(self) -> bool:
        return self.status in (404, 410)


class MediaIntegrityError(MediaError):
    """A downloaded blob failed a check; ``check`` names it, in whatsmeow's order:
    ``"length"`` (too short, or longer than announced), ``"file_enc_sha256"`` (the blob's
    hash), ``"mac"`` (the HMAC), ``"padding"`` (decryption), ``"file_sha256"`` (the
    plaintext's hash), ``"file_length"`` (the plaintext's length)."""

    def __init__(self, check: str, message: str) -> None:
        self.check = check
        super().__init__(message)


class MediaRetryError(MediaError):
    """The phone answered a media-retry request without new media. ``result`` is
    ``MediaRetryNotification.ResultType``'s name (``NOT_FOUND``, ``DECRYPTION_ERROR``,
    ``GENERAL_ERROR``), or ``"timeout"`` when no answer came."""

    def __init__(self, result: str, message: str) -> None:
        self.result = result
        super().__init__(message)


class VersionLookupError(WamdError):
    """The current version could not be looked up (network, or an unexpected page)."""


class EmitterClosed(WamdError):
    """The event emitter was closed while something waited for an event."""


class SimError(WamdError):
    """wamd.sim: a scripted action that the real service would refuse (e.g. a fifth companion)."""


class ControlError(SimError):
    """The sim's control interface refused a request (``wamd.testing.ControlClient``):
    ``status`` is the HTTP status (401 wrong token, 404 no such phone, 409 refused...)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class FleetError(WamdError):
    """wamd.fleet: bad input (an account name, an option) or a fleet database that cannot be used."""
