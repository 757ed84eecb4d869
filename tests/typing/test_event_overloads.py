"""The ``@overload`` blocks of ``wamd/events.py`` follow ``EventPayloads`` exactly."""

from __future__ import annotations

import typing

from tests.typing.gen_event_overloads import EVENTS, METHODS, formatted, render
from wamd.events import EVENT_NAMES, EventEmitter, EventName, EventPayloads


def test_the_generated_overloads_are_up_to_date() -> None:
    source = EVENTS.read_text()
    assert formatted(render(source)) == source, (
        "run python tests/typing/gen_event_overloads.py after changing EventPayloads"
    )


def test_every_event_has_a_payload_type_and_an_overload_of_each_method() -> None:
    payloads = typing.get_type_hints(EventPayloads)
    assert set(payloads) == EVENT_NAMES == set(typing.get_args(EventName))
    for method in METHODS:
        names: list[str] = []
        for overload in typing.get_overloads(getattr(EventEmitter, method)):
            hints = typing.get_type_hints(overload)
            (name,) = typing.get_args(hints["name"])
            names.append(name)
            if "payload" in hints:
                assert hints["payload"] == payloads[name], (method, name)
            if method == "wait_for":
                assert hints["return"] == payloads[name], name
        expected = sorted(EVENT_NAMES) * (2 if method == "on" else 1)
        assert sorted(names) == sorted(expected), method
