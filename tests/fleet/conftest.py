"""Fleet fixtures: a sim on 127.0.0.1, and the session's PostgreSQL server (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wamd.sim import SimServer
from wamd.testing import sim_server

__all__ = ["sim"]


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    async with sim_server() as server:
        yield server
