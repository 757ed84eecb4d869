"""``ClientCore.own_ids`` keeps its parsed JIDs between stanzas, and follows ``creds.me``."""

from __future__ import annotations

from tests.client.fakes import offline_client
from wamd.binary import JID, Node
from wamd.store.creds import Me


def test_own_ids_is_reused_and_follows_a_changed_me() -> None:
    bot = offline_client(lambda node: Node("iq", {"type": "result"}))
    core = bot.core
    first = core.own_ids()
    assert first is not None and first is core.own_ids()  # parsed once
    assert first.lid is None and first.users == frozenset({"15550001111"})
    core.auth.creds.me = Me("15550001111:2@s.whatsapp.net", "90001:2@lid", "Bot")  # lid learnt
    second = core.own_ids()
    assert second is not None and second.lid == JID.parse("90001:2@lid")
    assert second.users == frozenset({"15550001111", "90001"})
    core.auth.creds.me = Me("15550002222:4@s.whatsapp.net", "90001:2@lid", "Bot")  # re-paired
    third = core.own_ids()
    assert third is not None and third.pn == JID.parse("15550002222:4@s.whatsapp.net")
    core.auth.creds.me = None
    assert core.own_ids() is None
