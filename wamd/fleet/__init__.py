"""Many WhatsApp accounts: in one event loop (``Fleet``), and across processes and machines
(``FleetWorker``, leases in PostgreSQL). See ``docs/fleet.md``."""

from __future__ import annotations

from wamd.fleet.auths import AuthBackend, MemoryAuths, Pool, PostgresAuths, SQLiteAuths
from wamd.fleet.fleet import AccountEvent, AccountStatus, Fleet, FleetAccount, check_account
from wamd.fleet.metrics import FleetMetrics, MetricsServer

__all__ = [
    "AccountEvent",
    "AccountStatus",
    "AuthBackend",
    "Fleet",
    "FleetAccount",
    "FleetMetrics",
    "MemoryAuths",
    "MetricsServer",
    "Pool",
    "PostgresAuths",
    "SQLiteAuths",
    "check_account",
]
