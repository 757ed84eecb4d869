"""``wamd fleet``: the commands as a person runs them, against a real database and sim."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from wamd.errors import SimError
from wamd.fleet.metrics import parse_text
from wamd.sim import SimServer

from .helpers import WAIT, live

ROOT = Path(__file__).resolve().parents[2]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}


async def wamd(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wamd.cli",
        *args,
        cwd=ROOT,
        env=env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), WAIT)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def start(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wamd.cli",
        *args,
        cwd=ROOT,
        env=env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def line_with(proc: asyncio.subprocess.Process, text: str, seen: list[str]) -> str:
    assert proc.stdout is not None
    async with asyncio.timeout(WAIT):
        while True:
            raw = await proc.stdout.readline()
            assert raw, f"exited ({await proc.wait()}) before {text!r}; said: {seen[-10:]}"
            seen.append(raw.decode().rstrip())
            if text in seen[-1]:
                return seen[-1]


async def scrape(url: str) -> dict[str, float]:
    host, port = url.split("//")[1].split("/")[0].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    data = await reader.read()
    writer.close()
    head, _, body = data.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 200") and "version=0.0.4" in head
    return parse_text(body)


async def test_add_pair_list_run_remove(sim: SimServer, postgres_db: str) -> None:
    dsn = ["--dsn", postgres_db]
    server = ["--sim-url", sim.url, "--sim-root-key", sim.root_public_key.hex()]
    phone = sim.add_phone("15557770000", "Shop")

    code, out, _ = await wamd("fleet", "add", "shop", "spare", *dsn)
    assert code == 0 and "shop: added" in out and "spare: added" in out
    code, out, _ = await wamd("fleet", "add", "shop", *dsn)
    assert code == 0 and "shop: already there" in out

    pairing = await start("fleet", "pair", "shop", *dsn, *server)
    said: list[str] = []
    qr = (await line_with(pairing, "qr text: ", said)).split("qr text: ", 1)[1]
    scan = await line_with(pairing, "waiting for scan: ", said)
    assert "this is a sim" in scan and f'"qr": "{qr}"' in scan, scan  # how to scan there
    await phone.scan_qr(qr)
    await line_with(pairing, "shop: paired as 15557770000", said)
    assert await asyncio.wait_for(pairing.wait(), WAIT) == 0

    # by code: a mistyped code is said and a new one offered
    coded = sim.add_phone("15557772222", "Coded")
    assert (await wamd("fleet", "add", "coded", *dsn))[0] == 0
    pairing = await start("fleet", "pair", "coded", "--phone", "+1 555 777 2222", *dsn, *server)
    code = (await line_with(pairing, "pairing code: ", said)).split("pairing code: ", 1)[1]
    where = await line_with(pairing, "waiting for the code: ", said)
    assert "$CONTROL/phones/15557772222/code" in where, where
    with pytest.raises(SimError, match="pairing code rejected"):
        await coded.link_with_code(("2" if code[0] != "2" else "3") + code[1:])
    await line_with(pairing, "coded: the phone rejected the pairing code", said)
    fresh = (await line_with(pairing, "pairing code: ", said)).split("pairing code: ", 1)[1]
    assert fresh != code
    await coded.link_with_code(fresh)
    await line_with(pairing, "coded: paired as 15557772222", said)
    assert await asyncio.wait_for(pairing.wait(), WAIT) == 0
    code, out, _ = await wamd("fleet", "remove", "coded", "--forget", *dsn)
    assert code == 0 and "coded: removed" in out

    code, out, _ = await wamd("fleet", "list", *dsn)
    assert code == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:] if line.strip()}
    assert rows["shop"][1] == "paired" and rows["spare"][1] == "new"

    worker = await start(
        "fleet",
        "worker",
        "--name",
        "cli-w",
        "--lease-ttl",
        "2",
        "--metrics-port",
        "0",
        "--echo",
        *dsn,
        *server,
    )
    said = []
    try:
        url = (await line_with(worker, "metrics: ", said)).split("metrics: ", 1)[1]
        await line_with(worker, "shop: lease taken (token", said)
        await line_with(worker, "shop: online as 15557770000", said)
        alice = sim.add_phone("15557771111", "Alice")
        await alice.send_text(phone.jid, "echo me")
        await alice.next_message(WAIT)
        metrics = await scrape(url)
        assert metrics['wamd_fleet_connected_accounts{worker="cli-w"}'] == 1
        assert metrics['wamd_fleet_leases{worker="cli-w"}'] == 1
        assert metrics['wamd_fleet_messages_in_total{worker="cli-w"}'] == 1
        # the STATUS column is what the worker stored at its last renewal (every
        # lease_ttl / 4): it says "open" by the next tick, not necessarily at once
        out = ""
        for _ in range(50):
            code, out, _ = await wamd("fleet", "list", *dsn)
            shop = next((r for r in out.splitlines() if r.startswith("shop ")), "")
            if "cli-w" in shop and "open" in shop:
                break
            await asyncio.sleep(0.2)
        else:
            raise AssertionError(f"fleet list never said shop is open on cli-w:\n{out}")
        worker.send_signal(signal.SIGTERM)  # drains, leaves, exits 0
        await line_with(worker, "shop: lease released (draining)", said)
        await line_with(worker, "left in", said)
        assert await asyncio.wait_for(worker.wait(), WAIT) == 0
        assert live(phone) == 0
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()

    code, out, _ = await wamd("fleet", "remove", "shop", "--forget", *dsn)
    assert code == 0 and "shop: removed and its keys deleted" in out
    code, out, _ = await wamd("fleet", "list", *dsn)
    assert "shop" not in out


async def test_what_goes_wrong_is_said(postgres_db: str) -> None:
    code, _, err = await wamd("fleet", "list")
    assert code == 2 and "--dsn" in err
    code, _, err = await wamd("fleet", "add", "has space", "--dsn", postgres_db)
    assert code == 2 and "no spaces" in err
    code, out, _ = await wamd("fleet", "drain", "nobody", "--dsn", postgres_db)
    assert code == 1 and "no worker 'nobody'" in out
    code, out, _ = await wamd("fleet", "pair", "ghost", "--dsn", postgres_db)
    assert code == 1 and "no such account" in out
    code, _, err = await wamd("fleet", "pair", "ghost", "--phone", "555", "--dsn", postgres_db)
    assert code == 2 and "7 to 15" in err  # checked before anything connects
    code, out, _ = await wamd("fleet", "list", "--dsn", postgres_db.replace("/wamd_", "/nope_"))
    assert code == 1 and "does not exist" in out
    code, _, err = await wamd("fleet", "worker", "--app", "nope", "--dsn", postgres_db)
    assert code == 2 and "package.module:function" in err
