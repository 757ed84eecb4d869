"""What the console's stanza tap costs: the sim's load run with nobody listening, and
with a listener that decodes every node (what an open console page does).

    python bench/stanza_tap.py [--devices 20] [--messages 2000] [--rounds 3]

Prints msgs/s and nodes seen for three cases (the best of ``rounds``): connections not
wrapped at all, the tap with nobody listening (what the sim always runs), and a listener
on every node (an open console page does more: it decodes and sends each one).
Compares with the previous run saved in bench/.results/stanza_tap.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

from results import compare  # standard library only: imported before the path is cut

# bench/signal.py would shadow the standard library's ``signal`` (asyncio imports it)
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import logging  # noqa: E402

from wamd.sim import SimServer  # noqa: E402
from wamd.sim.load import run_load  # noqa: E402
from wamd.sim.tap import TappedNode  # noqa: E402

CASES = {
    "no tap (connections not wrapped)": "off",
    "tap, nobody listening": "idle",
    "tap, a listener on every node": "listen",
}


async def one(devices: int, messages: int, case: str) -> tuple[float, int]:
    seen = 0

    def listener(entry: TappedNode) -> None:
        nonlocal seen
        seen += 1

    async with SimServer(history_sync=None, app_state_keys=False) as sim:
        if case == "off":
            sim.tap.attach = lambda conn: None  # type: ignore[method-assign]
        elif case == "listen":
            sim.tap.listen(listener)
        result = await run_load(sim, devices=devices, messages=messages, deadline=300.0)
        if result.errors or result.missing:
            raise SystemExit(f"the load run failed: {result.errors[:3]} missing={result.missing}")
        return result.messages / result.seconds, seen


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    best: dict[str, tuple[float, int]] = {}
    for _ in range(args.rounds):
        for case in CASES.values():  # interleaved: the machine's load hits each alike
            rate, seen = await one(args.devices, args.messages, case)
            if rate > best.get(case, (0.0, 0))[0]:
                best[case] = (rate, seen)
    moved = compare("stanza_tap", {case: round(best[case][0]) for case in CASES.values()})
    for label, case in CASES.items():
        rate, seen = best[case]
        print(f"{label:34} {rate:8.0f} msgs/s  {seen:7d} nodes tapped   {moved[case]}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
