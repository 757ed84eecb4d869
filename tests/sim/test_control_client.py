"""``wamd.testing.ControlClient`` against a real control interface on 127.0.0.1: what
its methods do, and refusals as ``ControlError`` with the status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.sim.raw import pair_companion
from wamd.errors import ControlError, SimError
from wamd.sim import SimServer
from wamd.sim.control import ControlServer
from wamd.testing import ControlClient

ALICE, BOB = "15550001111", "15550002222"


@pytest.fixture
async def client() -> AsyncIterator[tuple[SimServer, ControlClient]]:
    async with (
        SimServer(history_sync=None, app_state_keys=False) as sim,
        ControlServer(sim) as server,
        ControlClient(server.url, server.token) as client,
    ):
        yield sim, client


async def test_the_client_drives_phones_groups_media_and_faults(
    client: tuple[SimServer, ControlClient], tmp_path: Path
) -> None:
    sim, control = client
    assert (await control.info())["url"] == sim.url
    await control.add_phone(ALICE, "Alice")
    await control.add_phone(BOB, "Bob", business=True)
    assert [p["name"] for p in await control.phones()] == ["Alice", "Bob"]
    assert (await control.phone(BOB))["business"] is True

    sent = await control.send(ALICE, BOB, "hello")
    got = await control.next_message(BOB)
    assert got["id"] == sent["id"] and got["text"] == "hello"
    await control.react(BOB, sent["id"], "👍")
    assert (await control.next_message(ALICE))["reaction"]["emoji"] == "👍"
    reply = await control.send(BOB, ALICE, "hi", quoted=sent["id"], mentions=[ALICE])
    assert (await control.next_message(ALICE))["quoted_id"] == sent["id"]
    await control.edit(BOB, reply["id"], "hi there")
    assert (await control.next_message(ALICE))["edit"]["text"] == "hi there"

    path = tmp_path / "notes.txt"
    path.write_bytes(b"some notes")
    media = await control.send_media(ALICE, BOB, path)  # a document, named after the file
    got = await control.next_message(BOB)
    assert got["id"] == media["id"] and got["media"]["file_name"] == "notes.txt"
    assert await control.media(BOB, media["id"]) == b"some notes"
    assert [m["id"] for m in await control.history(ALICE)][:1] == [sent["id"]]
    assert [m["id"] for m in await control.messages(BOB)] == [sent["id"], media["id"]]

    group = await control.create_group(ALICE, "Team", [BOB])
    await control.group_members(ALICE, group["jid"], "promote", [BOB])
    await control.set_subject(ALICE, group["jid"], "Crew")
    (listed,) = await control.groups()
    assert listed["subject"] == "Crew"
    assert listed["participants"][f"{BOB}@s.whatsapp.net"] == "admin"

    companion = await pair_companion(sim, sim.phones[ALICE])
    rule = await control.add_fault("drop", tags=["receipt"], direction="in", count=1)
    assert [r["id"] for r in (await control.faults())["rules"]] == [rule["id"]]
    await control.clear_faults()
    await control.stream_error(str(companion.jid), 515)
    assert (await companion.next("stream:error")).attrs["code"] == "515"
    await control.refuse_logins(count=1)
    await control.set_clock(86400)
    assert sim.clock_offset == 86400
    await control.offline(ALICE)
    assert sim.phones[ALICE].online is False


async def test_refusals_are_control_errors_with_the_status(
    client: tuple[SimServer, ControlClient],
) -> None:
    _, control = client
    await control.add_phone(ALICE)
    with pytest.raises(ControlError) as refused:
        await control.add_phone(ALICE)
    assert refused.value.status == 409 and "already" in refused.value.message
    assert isinstance(refused.value, SimError)
    with pytest.raises(ControlError) as refused:
        await control.next_message(ALICE, timeout=0.05)
    assert refused.value.status == 408
    with pytest.raises(ControlError) as refused:
        await control.media(ALICE, "NOSUCH")
    assert refused.value.status == 404
    wrong = ControlClient(control.url, "x" * 32)
    try:
        with pytest.raises(ControlError) as refused:
            await wrong.phones()
        assert refused.value.status == 401
        assert "x" * 32 not in repr(wrong)  # the token stays out of repr
    finally:
        await wrong.close()
    gone = ControlClient("http://127.0.0.1:9/", "x" * 32)
    try:
        with pytest.raises(ControlError) as refused:
            await gone.info()
        assert refused.value.status == 0 and "cannot reach" in refused.value.message
    finally:
        await gone.close()
