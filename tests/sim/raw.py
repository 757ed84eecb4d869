"""Raw-node companions for the sim tests: ``wamd.testing.raw`` (the public kit), and
``GP2``, a filter the group tests share."""

from __future__ import annotations

from wamd.binary import Node
from wamd.testing.raw import (
    SERVER,
    WAIT,
    Login,
    RawCompanion,
    open_raw,
    pair_companion,
    registration,
)

__all__ = [
    "GP2",
    "SERVER",
    "WAIT",
    "Login",
    "RawCompanion",
    "open_raw",
    "pair_companion",
    "registration",
]


def GP2(node: Node) -> bool:
    """A group notification (``w:gp2``), not one of the other kinds (``devices``...)."""
    return node.attrs.get("type") == "w:gp2"
