"""``wamd.sim``: a local WhatsApp multi-device server with simulated phones."""

from wamd.sim.server import (
    MAX_COMPANIONS,
    PRIMARY_OFFLINE_LIMIT,
    HistorySyncPolicy,
    ProvisionedCompanion,
    SimDevice,
    SimError,
    SimPhone,
    SimServer,
)

__all__ = [
    "MAX_COMPANIONS",
    "PRIMARY_OFFLINE_LIMIT",
    "HistorySyncPolicy",
    "ProvisionedCompanion",
    "SimDevice",
    "SimError",
    "SimPhone",
    "SimServer",
]
