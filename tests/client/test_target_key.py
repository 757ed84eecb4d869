"""Keys of the messages that reactions, edits and revokes point at, turned to our side.

Literal keys, no socket: each case is a target key as the writer's device fills it in.
"""

from __future__ import annotations

from wamd.client.receive import target_key
from wamd.messaging.types import MessageKey
from wamd.proto import common_pb2

ME = frozenset({"15550001111", "90001"})  # our number and our lid user
ALICE = "15550002222@s.whatsapp.net"
BOB = "15550003333@s.whatsapp.net"
GROUP = "120363000000000001@g.us"


def theirs(remote: str, from_me: bool, mid: str, participant: str = "") -> common_pb2.MessageKey:
    key = common_pb2.MessageKey(remoteJID=remote, fromMe=from_me, ID=mid)
    if participant:
        key.participant = participant
    return key


def test_a_contact_reacting_to_our_message_in_a_chat() -> None:
    reaction = MessageKey(ALICE, False, "R1")
    # Alice's phone keys our message as (our number, not hers)
    target = theirs("15550001111@s.whatsapp.net", False, "OURS")
    assert target_key(reaction, target, ME) == MessageKey(ALICE, True, "OURS")


def test_a_contact_reacting_to_their_own_message_in_a_chat() -> None:
    reaction = MessageKey(ALICE, False, "R2")
    target = theirs("15550001111@s.whatsapp.net", True, "HERS")
    assert target_key(reaction, target, ME) == MessageKey(ALICE, False, "HERS")


def test_a_target_without_remote_jid_still_lands_in_the_chat() -> None:
    assert target_key(MessageKey(ALICE, False, "R"), theirs("", True, "X"), ME) == MessageKey(
        ALICE, False, "X"
    )


def test_a_member_reacting_to_our_message_in_a_group() -> None:
    reaction = MessageKey(GROUP, False, "R3", ALICE)
    target = theirs(GROUP, False, "OURS", "15550001111:3@s.whatsapp.net")
    assert target_key(reaction, target, ME) == MessageKey(GROUP, True, "OURS")


def test_a_member_reacting_to_our_message_by_our_lid() -> None:
    reaction = MessageKey(GROUP, False, "R4", "777@lid")
    assert target_key(reaction, theirs(GROUP, False, "OURS", "90001@lid"), ME) == MessageKey(
        GROUP, True, "OURS"
    )


def test_a_member_reacting_to_another_members_message() -> None:
    reaction = MessageKey(GROUP, False, "R5", ALICE)
    target = theirs(GROUP, False, "BOBS", "15550003333:2@s.whatsapp.net")
    assert target_key(reaction, target, ME) == MessageKey(GROUP, False, "BOBS", BOB)


def test_a_member_revoking_their_own_message() -> None:
    revoke = MessageKey(GROUP, False, "P1", ALICE)
    assert target_key(revoke, theirs(GROUP, True, "HERS"), ME) == MessageKey(
        GROUP, False, "HERS", ALICE
    )


def test_our_other_device_writes_keys_from_our_side_already() -> None:
    own_reaction = MessageKey(ALICE, True, "R6")
    assert target_key(own_reaction, theirs(ALICE, False, "HERS"), ME) == MessageKey(
        ALICE, False, "HERS"
    )
    assert target_key(own_reaction, theirs(ALICE, True, "OURS"), ME) == MessageKey(
        ALICE, True, "OURS"
    )
    in_group = MessageKey(GROUP, True, "R7")
    assert target_key(in_group, theirs(GROUP, False, "BOBS", BOB), ME) == MessageKey(
        GROUP, False, "BOBS", BOB
    )


def test_a_malformed_participant_is_kept_as_written_not_a_crash() -> None:
    reaction = MessageKey(GROUP, False, "R8", ALICE)
    assert target_key(reaction, theirs(GROUP, False, "X", "not a jid"), ME) == MessageKey(
        GROUP, False, "X", "not a jid"
    )
