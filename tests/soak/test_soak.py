"""Soak: messages from several contacts to a ``run_forever`` bot while the sim misbehaves.

240 messages per store in the suite (seconds each); ``WAMD_SOAK_MESSAGES=10000 python
-m pytest tests/soak -s`` is the long run. The
sim injects, at random and seeded (``WAMD_SOAK_SEED`` replays a run): dropped links and
stream errors (515, 503) instead of a message, duplicated messages, lost, delayed and
reordered receipts, acks and notifications, receipts from the bot that never arrive,
lost pings (so the keepalive gives up), and refused logins. What must hold, whatever the
faults: every message reaches the application, exactly once, in order within its chat;
and the work of every closed connection has stopped (nothing piles up).

The wire gives no order to a chat's messages but the order of delivery, so faults that
would reorder one chat's messages on a live link (a delayed or held-back message) are
applied to the other stanzas only; a lost message is a lost link, as on the real service.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.client.conftest import link
from tests.client.stores import close_state, open_state, store_kind  # noqa: F401 (fixture)
from wamd.client import WASocket, make_wa_socket, run_forever
from wamd.events import MessagesUpsert
from wamd.sim import SimServer

MESSAGES = int(os.environ.get("WAMD_SOAK_MESSAGES", "240"))
CONTACTS = 4
SEED = int(os.environ.get("WAMD_SOAK_SEED", "0")) or random.SystemRandom().randrange(1, 2**31)
OTHER_TAGS = ("receipt", "notification", "ack", "iq", "ib", "presence")


def inject(sim: SimServer, device: str) -> None:
    faults = sim.faults
    faults.disconnects(0.01, tags=["message"], device=device)
    faults.stream_errors(0.004, 515, tags=["message"], device=device)
    faults.stream_errors(0.004, 503, tags=["message"], device=device)
    faults.duplicate(0.05, tags=["message"], device=device)
    faults.drop(0.05, tags=OTHER_TAGS, device=device)
    faults.delay(0.05, 0.05, tags=OTHER_TAGS, device=device)
    faults.reorder(0.05, tags=OTHER_TAGS, device=device, seconds=0.05)
    faults.drop(0.05, tags=["receipt", "ack"], device=device, direction="in")
    faults.lose_pings(0.3, device=device)


@pytest.mark.skipif(not MESSAGES, reason="WAMD_SOAK_MESSAGES=0 turns the soak off")
async def test_every_message_once_and_in_order_under_faults(
    tmp_path: Path,
    store_kind: str,  # noqa: F811
) -> None:
    rng = random.Random(SEED)
    async with SimServer(rng=rng, history_sync=None, app_state_keys=False) as sim:
        bot_phone = sim.add_phone("15550001111", "Bot")
        contacts = [sim.add_phone(f"1555000{n}000", f"C{n}") for n in range(2, 2 + CONTACTS)]
        state = await open_state(store_kind, tmp_path)
        first = await link(sim, bot_phone, state)
        await first.end()
        device = str(bot_phone.companions[1].jid)

        seen: list[tuple[str, int]] = []
        sockets: list[WASocket] = []
        got_all = asyncio.Event()
        wanted = {(c.number, n) for c in contacts for n in range(MESSAGES // CONTACTS)}

        async def on_upsert(update: MessagesUpsert) -> None:
            for message in update.messages:
                text = message.text or ""
                if ":" in text:
                    who, n = text.split(":")
                    seen.append((who, int(n)))
                    if len(wanted - set(seen)) == 0:
                        got_all.set()
                    if rng.random() < 0.1:
                        await asyncio.sleep(0.01)  # a slow handler now and then

        def make() -> WASocket:
            sock = make_wa_socket(
                state,
                url=sim.url,
                server_root_key=sim.root_public_key,
                keepalive_interval=(0.5, 1.0),
                keepalive_timeout=2.0,
            )
            sock.ev.on("messages.upsert", on_upsert)
            sockets.append(sock)
            return sock

        stop = asyncio.Event()
        started = time.monotonic()
        inject(sim, device)
        bot = asyncio.ensure_future(
            run_forever(make, initial_delay=0.02, max_delay=0.3, jitter=0.1, stop=stop)
        )

        async def send_all(contact: object, who: str) -> None:
            for n in range(MESSAGES // CONTACTS):
                await contact.send_text(bot_phone.jid, f"{who}:{n}")  # type: ignore[attr-defined]
                if n % 40 == 39 and who == contacts[0].number:
                    sim.faults.refuse_logins(count=2)  # the next two logins are refused
                if n % 50 == 25 and who == contacts[1].number:
                    await sim.faults.disconnect(bot_phone.companions[1])  # at least this
                await asyncio.sleep(rng.random() * 0.004)

        try:
            await asyncio.gather(*(send_all(c, c.number) for c in contacts))
            try:
                await asyncio.wait_for(got_all.wait(), 60 + MESSAGES * 0.05)
            except TimeoutError:
                missing = sorted(wanted - set(seen))
                pytest.fail(
                    f"seed {SEED}: {len(missing)} of {len(wanted)} never arrived "
                    f"(first {missing[:5]}); {len(sockets)} sockets, faults "
                    f"{dict(Counter(f for f, _, _ in sim.faults.log))}"
                )
            sim.faults.clear()
            await asyncio.sleep(0.5)  # a redelivery still on its way would show up here
            live = sockets[-1]
            await asyncio.wait_for(live.idle(), 30)
        finally:
            stop.set()
            await asyncio.wait_for(bot, 30)
            await close_state(state)
        elapsed = time.monotonic() - started

        counts = Counter(seen)
        missing = wanted - set(counts)
        duplicates = sum(c - 1 for c in counts.values() if c > 1)
        inversions = 0
        last: dict[str, int] = {}
        for who, n in seen:
            if n < last.get(who, -1):
                inversions += 1
            last[who] = max(n, last.get(who, -1))
        leftovers = [
            s
            for s in sockets
            if s.core.attempt is not None
            and (s.core.attempt.tasks or s.core.attempt.workers.tasks())
        ]
        fired = Counter(f for f, _, _ in sim.faults.log)
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"\nsoak [{store_kind}] seed {SEED}: {len(wanted)} messages in {elapsed:.1f} s, "
            f"{len(sockets)} sockets, faults {dict(fired)}; missing {len(missing)}, "
            f"duplicates {duplicates}, inversions {inversions}, "
            f"sockets with work left {len(leftovers)}, max RSS {rss_mb:.0f} MB"
        )
        assert not missing, f"seed {SEED}: lost {sorted(missing)[:10]}"
        assert duplicates == 0, f"seed {SEED}: {duplicates} duplicates"
        assert inversions == 0, f"seed {SEED}: {inversions} order inversions"
        assert leftovers == [], f"seed {SEED}: closed sockets still at work"
        assert len(sockets) >= 2, "the link never broke: the soak tested nothing"
