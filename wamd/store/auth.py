"""``AuthState``: a device's credentials plus its key store; what ``use_*_auth_state`` return."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from wamd.store.creds import AuthenticationCreds
from wamd.store.types import SignalKeyStore

__all__ = ["AuthState", "AuthStateAndSave", "SaveCreds"]


@dataclass
class AuthState:
    creds: AuthenticationCreds
    keys: SignalKeyStore


class SaveCreds(Protocol):
    """``await save_creds()``: write the current ``state.creds`` durably.

    It accepts (and ignores) the partial update a ``creds.update`` event carries, so it
    can be registered as that event's handler directly.
    """

    def __call__(self, *update: object) -> Awaitable[None]: ...


class AuthStateAndSave(NamedTuple):
    """What every ``use_*_auth_state`` returns: ``state, save_creds = await use_...(...)``."""

    state: AuthState
    save_creds: SaveCreds
