"""The Signal protocol layer: 1:1 sessions (X3DH, Double Ratchet) and group sender keys."""

from wamd.signal.address import signal_address
from wamd.signal.group import (
    SenderKeyRecord,
    create_distribution,
    group_decrypt,
    group_encrypt,
    process_distribution,
)
from wamd.signal.prekeys import parse_bundle, upload_children
from wamd.signal.repository import DecryptResult, SignalRepository, generate_prekeys
from wamd.signal.session import (
    PreKeyBundle,
    SessionRecord,
    decrypt_message,
    decrypt_prekey_message,
    encrypt,
    initiate_session,
    parse_prekey_message,
)

__all__ = [
    "DecryptResult",
    "PreKeyBundle",
    "SenderKeyRecord",
    "SessionRecord",
    "SignalRepository",
    "create_distribution",
    "decrypt_message",
    "decrypt_prekey_message",
    "encrypt",
    "generate_prekeys",
    "group_decrypt",
    "group_encrypt",
    "initiate_session",
    "parse_bundle",
    "parse_prekey_message",
    "process_distribution",
    "signal_address",
    "upload_children",
]
