"""Writes the ``@overload`` blocks of ``wamd/events.py`` from ``EventPayloads``.

``python tests/typing/gen_event_overloads.py`` rewrites the blocks between the
``# --- generated overloads: <method> ---`` and ``# --- end: <method> ---`` markers;
``tests/typing/test_event_overloads.py`` fails when they are out of date.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from pathlib import Path

EVENTS = Path(__file__).resolve().parents[2] / "wamd" / "events.py"

METHODS = ("on", "once", "emit", "emit_tracked", "wait_for")


def type_text(tp: object) -> str:
    """Source text of an annotation (``list[MessageUpdate]``, ``dict[str, Any]``)."""
    if tp is typing.Any:
        return "Any"
    if isinstance(tp, types.GenericAlias):
        args = ", ".join(type_text(a) for a in typing.get_args(tp))
        return f"{typing.get_origin(tp).__name__}[{args}]"
    if isinstance(tp, type):
        return tp.__name__
    raise TypeError(f"cannot write {tp!r} as source")


def overloads(method: str, payloads: dict[str, object]) -> list[str]:
    lines: list[str] = []
    for name, tp in payloads.items():
        name_t = f'Literal["{name}"]'
        t = type_text(tp)
        if method == "on":
            lines += [
                "    @overload",
                f"    def on(self, name: {name_t}) -> HandlerDecorator[{t}]: ...",
                "    @overload",
                f"    def on(self, name: {name_t}, handler: Callable[[{t}], R]) -> Callable[[{t}], R]: ...",
            ]
        elif method == "once":
            lines += [
                "    @overload",
                f"    def once(self, name: {name_t}, handler: Callable[[{t}], R]) -> Callable[[{t}], R]: ...",
            ]
        elif method == "emit":
            lines += [
                "    @overload",
                f"    def emit(self, name: {name_t}, payload: {t}) -> None: ...",
            ]
        elif method == "emit_tracked":
            lines += [
                "    @overload",
                f"    def emit_tracked(self, name: {name_t}, payload: {t}) -> asyncio.Future[Any]: ...",
            ]
        elif method == "wait_for":
            lines += [
                "    @overload",
                f"    async def wait_for(self, name: {name_t}, predicate: Callable[[{t}], object] | None = None, timeout: float | None = None) -> {t}: ...",
            ]
    return lines


def render(source: str) -> str:
    """``source`` (events.py) with every generated block rewritten."""
    from wamd.events import EventPayloads

    payloads = typing.get_type_hints(EventPayloads)
    for method in METHODS:
        pattern = re.compile(
            rf"(    # --- generated overloads: {method} ---\n).*?(    # --- end: {method} ---\n)",
            re.S,
        )
        body = "\n".join(overloads(method, payloads)) + "\n"
        source, count = pattern.subn(lambda m, body=body: m.group(1) + body + m.group(2), source)
        if count != 1:
            raise ValueError(f"no generated block for {method} in {EVENTS}")
    return source


def formatted(source: str) -> str:
    """``source`` as ``ruff format`` writes it (the checked-in file is formatted)."""
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(EVENTS), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        cwd=EVENTS.parents[1],
    )
    return result.stdout


if __name__ == "__main__":
    EVENTS.write_text(formatted(render(EVENTS.read_text())))
    print(f"wrote {EVENTS}")
