"""A sim on 127.0.0.1 per test (the client suite's fixture)."""

from tests.client.conftest import sim

__all__ = ["sim"]
