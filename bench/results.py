"""Figures saved between runs of a bench, so each run says how it moved.

``compare(name, figures)`` loads ``bench/.results/<name>.json`` (git-ignored), returns,
for every figure the previous run also had, a text like ``(previous 1,234, +5.1%)``, and
saves this run's figures in its place. Only standard-library imports: the benches that
strip their own directory from ``sys.path`` (``bench/signal.py`` would shadow the
standard library's module) import this first.
"""

from __future__ import annotations

import json
from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent / ".results"


def compare(name: str, figures: dict[str, float]) -> dict[str, str]:
    path = DIRECTORY / f"{name}.json"
    try:
        previous = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        previous = {}  # a damaged file from an interrupted run: start again
    if not isinstance(previous, dict):
        previous = {}
    said = {}
    for key, value in figures.items():
        before = previous.get(key)
        if isinstance(before, (int, float)) and before:
            said[key] = f"(previous {before:,}, {100 * (value / before - 1):+.1f}%)"
        else:
            said[key] = ""
    DIRECTORY.mkdir(exist_ok=True)
    path.write_text(json.dumps(figures, indent=2))
    return said
