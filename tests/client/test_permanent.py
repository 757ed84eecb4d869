"""Permanent failures end ``run_forever`` with a reason; transient ones keep backing off.

Each case counts the sockets ``run_forever`` made: one for a failure that reconnecting
cannot cure (a certificate chain that does not verify against the pinned root, 405 client
outdated, 403 forbidden), more than one for a refusal that passes (503).
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from wamd.client import WASocket, make_wa_socket, run_forever
from wamd.client.supervisor import final_reason, is_final
from wamd.crypto import generate_keypair
from wamd.errors import CertificateError, DisconnectReason
from wamd.events import LastDisconnect
from wamd.sim import SimServer
from wamd.testing import link, new_auth_state, sim_server, socket_for

BOUND = 10.0


async def _supervised(
    make: list[WASocket], factory: object, *, stop_after: int | None = None
) -> LastDisconnect | None:
    stop = asyncio.Event()

    def made() -> WASocket:
        sock = factory()  # type: ignore[operator]
        make.append(sock)
        if stop_after is not None and len(make) >= stop_after:
            stop.set()
        return sock  # type: ignore[no-any-return]

    return await asyncio.wait_for(
        run_forever(made, initial_delay=0.01, max_delay=0.02, jitter=0, stop=stop), BOUND
    )


async def test_a_certificate_chain_from_another_root_ends_the_supervisor(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "wamd.client.supervisor")
    async with SimServer() as sim:
        wrong_root = generate_keypair().public  # not the sim's root
        sockets: list[WASocket] = []
        last = await _supervised(
            sockets,
            lambda: make_wa_socket(new_auth_state(), url=sim.url, server_root_key=wrong_root),
        )
    assert last is not None and isinstance(last.error, CertificateError)
    assert "not signed by the trusted root" in str(last.error)
    assert len(sockets) == 1
    assert is_final(last)
    (line,) = [r.getMessage() for r in caplog.records if "not reconnecting" in r.getMessage()]
    assert "root key" in line


async def test_client_outdated_ends_the_supervisor() -> None:
    async with sim_server(min_version=(9, 9, 9)) as sim:
        sockets: list[WASocket] = []
        last = await _supervised(sockets, lambda: socket_for(sim))
    assert last is not None and last.status_code == DisconnectReason.CLIENT_OUTDATED
    assert len(sockets) == 1
    assert "update wamd" in final_reason(last)


async def test_forbidden_ends_the_supervisor() -> None:
    async with sim_server() as sim:
        phone = sim.add_phone("15550001111", "Bot")
        state = new_auth_state()
        sock = await link(sim, phone, state)
        await sock.end()
        sim.faults.refuse_logins(reason=403)  # every login from now on: banned
        sockets: list[WASocket] = []
        last = await _supervised(sockets, lambda: socket_for(sim, state))
    assert last is not None and last.status_code == DisconnectReason.FORBIDDEN
    assert len(sockets) == 1
    assert "banned" in final_reason(last)


async def test_a_passing_refusal_is_retried_until_it_passes() -> None:
    async with sim_server() as sim:
        phone = sim.add_phone("15550001111", "Bot")
        state = new_auth_state()
        sock = await link(sim, phone, state)
        await sock.end()
        sim.faults.refuse_logins(count=2, reason=503)  # the next two logins only
        sockets: list[WASocket] = []
        opened = asyncio.Event()

        def factory() -> WASocket:
            sock = socket_for(sim, state)
            sock.ev.on(
                "connection.update",
                lambda u: opened.set() if u.connection == "open" else None,
            )
            return sock

        stop = asyncio.Event()

        async def stop_when_open() -> None:
            await opened.wait()
            stop.set()

        stopper = asyncio.ensure_future(stop_when_open())

        def made() -> WASocket:
            sock = factory()
            sockets.append(sock)
            return sock

        await asyncio.wait_for(
            run_forever(made, initial_delay=0.01, max_delay=0.02, jitter=0, stop=stop), BOUND
        )
        await stopper
    assert len(sockets) == 3  # two refused, the third let in
    assert opened.is_set()


def test_only_permanent_reasons_are_final() -> None:
    for code in (401, 403, 405, 440):
        assert is_final(LastDisconnect(None, code))
    for code in (408, 428, 500, 503, 515):
        assert not is_final(LastDisconnect(None, code))
    assert is_final(LastDisconnect(CertificateError("server certificate: x"), 500))
