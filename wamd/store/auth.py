"""``AuthState``: a device's credentials plus its key store."""

from __future__ import annotations

from dataclasses import dataclass

from wamd.store.creds import AuthenticationCreds
from wamd.store.types import SignalKeyStore

__all__ = ["AuthState"]


@dataclass
class AuthState:
    creds: AuthenticationCreds
    keys: SignalKeyStore
