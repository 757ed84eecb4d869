"""Load on the sim: connected companions exchanging messages over loopback.

    python bench/sim_load.py [--devices 200] [--messages 10000] [--deadline 600]

Every message must reach its device exactly once, get its server ack and its delivery
receipt, and every outbox must end empty; the run fails (exit 1) otherwise or when it
does not finish within the deadline. Prints connections, messages, seconds and msgs/s
and compares with bench/.results/sim_load.json from the previous run.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/signal.py would shadow the standard library's ``signal`` (asyncio imports it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402

from wamd.sim import SimServer  # noqa: E402
from wamd.sim.load import run_load  # noqa: E402

RESULTS = Path(__file__).resolve().parent / ".results" / "sim_load.json"


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--window", type=int, default=8, help="unacked messages per device")
    parser.add_argument("--deadline", type=float, default=600.0, help="seconds for the run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    async with SimServer(history_sync=None, app_state_keys=False) as sim:  # routing only
        result = await run_load(
            sim,
            devices=args.devices,
            messages=args.messages,
            window=args.window,
            deadline=args.deadline,
        )
    print(f"connections: {result.connections}")
    print(f"messages:    {result.messages}")
    print(f"seconds:     {result.seconds:.2f}")
    print(f"msgs/s:      {result.rate:.0f}")
    print(
        f"delivered {result.delivered}, missing {result.missing}, duplicates "
        f"{result.duplicates}, acked {result.acked}, receipts {result.receipts}, "
        f"outbox left {result.outbox_left}"
    )
    for error in result.errors[:10]:
        print(f"error: {error}")
    now = {
        "connections": result.connections,
        "messages": result.messages,
        "seconds": round(result.seconds, 2),
        "msgs_per_s": round(result.rate),
        "ok": result.ok,
    }
    if RESULTS.exists():
        before = json.loads(RESULTS.read_text())
        if before.get("messages") == now["messages"] and before.get("msgs_per_s"):
            change = 100.0 * (now["msgs_per_s"] - before["msgs_per_s"]) / before["msgs_per_s"]
            print(f"previous run: {before['msgs_per_s']} msgs/s ({change:+.1f}%)")
        else:
            print(f"previous run: {before} (not comparable)")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(now, indent=2) + "\n")
    print("OK" if result.ok else "FAILED: messages were lost, duplicated or unacknowledged")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
