"""Shared by the fleet tests: pairing accounts into a fleet database, waiting with a bound."""

from __future__ import annotations

import asyncio
from typing import Any

from wamd.fleet import Fleet, PostgresAuths
from wamd.fleet.leases import PostgresLeases
from wamd.sim import SimPhone, SimServer

WAIT = 30.0  # seconds: a bound for a wait that should take far less


def options(sim: SimServer) -> dict[str, Any]:
    return {"url": sim.url, "server_root_key": sim.root_public_key}


async def until(check: Any, what: str, timeout: float = WAIT) -> None:
    """Poll ``check`` (sync or async) until true; fail with ``what`` after a bound."""

    async def holds() -> bool:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        return bool(result)

    try:
        async with asyncio.timeout(timeout):
            while not await holds():  # noqa: ASYNC110 (state in the sim and the database)
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"not within {timeout:g} s: {what}") from None


def scanner(phone: SimPhone) -> Any:
    """An ``on_qr`` that has ``phone`` scan the first QR code."""
    scans: list[asyncio.Task[Any]] = []

    def on_qr(qr: str) -> None:
        if not scans:
            scans.append(asyncio.ensure_future(phone.scan_qr(qr)))

    return on_qr


def live(phone: SimPhone) -> int:
    """How many of the phone's companions have a live connection to the sim."""
    return sum(
        1 for d in phone.companions.values() if d.connection is not None and not d.connection.closed
    )


async def provision(
    sim: SimServer, dsn: str, n: int, *, prefix: str = "acct", first: int = 0
) -> dict[str, SimPhone]:
    """``n`` sim phones, each paired as a fleet account in ``dsn`` (registered, paired)."""
    phones: dict[str, SimPhone] = {}
    async with (
        PostgresLeases(dsn) as leases,
        Fleet(PostgresAuths(dsn, pool_size=4), socket_options=options(sim)) as fleet,
    ):

        async def one(i: int) -> None:
            name = f"{prefix}-{i}"
            phone = sim.add_phone(f"1555{first + i:07d}", name)
            phones[name] = phone
            await leases.add_account(name)
            await fleet.add(name)
            jid = await fleet.pair(name, on_qr=scanner(phone))
            await leases.set_account(name, "paired", jid=jid)

        for start in range(0, n, 8):
            await asyncio.gather(*(one(i) for i in range(start, min(n, start + 8))))
    return phones


class Partition:
    """A TCP proxy to PostgreSQL that the test can cut (a worker cut off from the database)."""

    def __init__(self, dsn: str) -> None:
        rest = dsn.split("@", 1)[1]
        hostport, _, self.database = rest.partition("/")
        self.host, _, port = hostport.partition(":")
        self.port = int(port)
        self.user = dsn.split("//", 1)[1].split("@", 1)[0]
        self.cut_off = False
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"postgresql://{self.user}@127.0.0.1:{port}/{self.database}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off:
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
        self._writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    if self.cut_off:
                        break
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def cut(self) -> None:
        self.cut_off = True
        for writer in self._writers:
            writer.transport.abort()

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
