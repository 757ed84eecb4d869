"""Poll votes: how a vote is encrypted under the poll's message secret (sans-IO).

A poll (``pollCreationMessage``) carries a random 32-byte ``messageContextInfo.messageSecret``.
A vote (``pollUpdateMessage``, field 50) holds the poll's key and ``vote = PollEncValue{
encPayload, encIV}``: a ``PollVoteMessage{selectedOptions: [SHA-256(option name) ...]}``
encrypted with AES-256-GCM (12-byte IV) under

    key = HKDF-SHA256(secret, salt=none, info=POLL_ID ‖ CREATOR ‖ VOTER ‖ "Poll Vote", 32)
    aad = POLL_ID ‖ 0x00 ‖ VOTER

where CREATOR and VOTER are the poll creator's and the voter's non-device JID strings
(whatsmeow ``msgsecret.go`` generateMsgSecretKey and getOrigSenderFromKey; Baileys
``process-message.ts`` decryptPollVote computes the same HKDF written out as HMACs).
While WhatsApp moves accounts to LIDs, the creator may be named by either form:
whatsmeow retries with the other one when the tag does not verify, and so does wamd,
over every pair of candidate forms it is given.

The secret is key material: it appears in no log line above DEBUG, no exception and no
``repr``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.protobuf.message import DecodeError as ProtobufDecodeError

from wamd.crypto import hkdf
from wamd.errors import InvalidMessage
from wamd.proto import e2e_pb2

__all__ = [
    "POLL_VOTE",
    "PollSecret",
    "decrypt_vote",
    "encrypt_vote",
    "option_hash",
    "poll_creation",
    "vote_key",
]

POLL_VOTE = b"Poll Vote"  # the use-case string of a vote's key (whatsmeow EncSecretPollVote)
SECRET_SIZE = 32  # bytes of a message secret
IV_SIZE = 12  # bytes of a vote's AES-GCM IV


def option_hash(name: str) -> bytes:
    """What a vote names an option by: SHA-256 of its name (whatsmeow HashPollOptions)."""
    return hashlib.sha256(name.encode()).digest()


def vote_key(secret: bytes, poll_id: str, creator: str, voter: str) -> tuple[bytes, bytes]:
    """The AES-GCM key and additional data of a vote by ``voter`` on ``creator``'s poll."""
    info = poll_id.encode() + creator.encode() + voter.encode() + POLL_VOTE
    return hkdf(secret, 32, info=info), poll_id.encode() + b"\x00" + voter.encode()


@dataclass(frozen=True, slots=True)
class PollSecret:
    """What a voter or a counter needs of a poll: its secret, creator, chat and options."""

    poll_id: str
    chat: str
    creator: str  # the creator's non-device JID as the poll came (or went) out
    options: tuple[str, ...]
    secret: bytes = field(repr=False)
    creator_alt: str | None = None  # the creator's other form (lid / phone number)

    def creators(self) -> list[str]:
        return [c for c in (self.creator, self.creator_alt) if c]


def poll_creation(
    name: str, options: Sequence[str], selectable: int, secret: bytes | None = None
) -> e2e_pb2.Message:
    """A ``pollCreationMessage`` with a fresh message secret (whatsmeow BuildPollCreation:
    version 1 whatever the count; Baileys sends version 3 for single choice)."""
    message = e2e_pb2.Message()
    poll = message.pollCreationMessage
    poll.name = name
    poll.options.extend(e2e_pb2.PollCreationMessage.Option(optionName=o) for o in options)
    poll.selectableOptionsCount = selectable
    message.messageContextInfo.messageSecret = secret or os.urandom(SECRET_SIZE)
    return message


def encrypt_vote(
    poll: PollSecret, voter: str, selected: Iterable[str], iv: bytes | None = None
) -> e2e_pb2.PollEncValue:
    """``voter``'s vote for the options named ``selected`` (which must be the poll's)."""
    chosen = list(dict.fromkeys(selected))
    unknown = [o for o in chosen if o not in poll.options]
    if unknown:
        raise ValueError(f"not options of this poll: {', '.join(map(repr, unknown))}")
    plaintext = e2e_pb2.PollVoteMessage(
        selectedOptions=[option_hash(o) for o in chosen]
    ).SerializeToString()
    key, aad = vote_key(poll.secret, poll.poll_id, poll.creator, voter)
    nonce = iv or os.urandom(IV_SIZE)
    return e2e_pb2.PollEncValue(encPayload=AESGCM(key).encrypt(nonce, plaintext, aad), encIV=nonce)


def decrypt_vote(
    poll: PollSecret,
    voters: Sequence[str],
    vote: e2e_pb2.PollEncValue,
    creators: Sequence[str] = (),
) -> tuple[str, ...]:
    """The option names a vote selects (an empty tuple: the vote was taken back).

    ``voters`` are the forms of the voter's JID (as the stanza named it first),
    ``creators`` the forms of the poll creator the vote's key names (the poll's own come
    after them); every pair is tried. ``InvalidMessage`` when none verifies or the
    plaintext is not a vote.
    """
    if len(vote.encIV) != IV_SIZE or not vote.encPayload:
        raise InvalidMessage("a poll vote without a 12-byte IV and a payload")
    tried = list(dict.fromkeys([*creators, *poll.creators()]))
    for voter in dict.fromkeys(voters):
        for creator in tried:
            key, aad = vote_key(poll.secret, poll.poll_id, creator, voter)
            try:
                plaintext = AESGCM(key).decrypt(vote.encIV, vote.encPayload, aad)
            except InvalidTag:
                continue
            try:
                parsed = e2e_pb2.PollVoteMessage.FromString(plaintext)
            except ProtobufDecodeError:
                raise InvalidMessage("a poll vote that decrypts to no PollVoteMessage") from None
            by_hash = {option_hash(o): o for o in poll.options}
            return tuple(by_hash[h] for h in parsed.selectedOptions if h in by_hash)
    raise InvalidMessage(f"a vote on poll {poll.poll_id} that does not decrypt under its secret")
