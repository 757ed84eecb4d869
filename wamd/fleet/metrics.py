"""Fleet metrics in the Prometheus text exposition format (version 0.0.4), and a server.

What is measured (every series carries the labels the fleet gives it, e.g. ``worker``):

=================================== ========= =============================================
name                                type      what
=================================== ========= =============================================
``wamd_fleet_accounts``             gauge     accounts in this process, by ``status``
``wamd_fleet_connected_accounts``   gauge     accounts whose socket is open
``wamd_fleet_leases``               gauge     leases this worker holds
``wamd_fleet_logins_total``         counter   connections that reached open
``wamd_fleet_reconnects_total``     counter   reconnects the supervisors scheduled
``wamd_fleet_disconnects_total``    counter   closes, by ``code`` (440 = replaced)
``wamd_fleet_messages_in_total``    counter   messages handed to handlers (not from_me)
``wamd_fleet_messages_out_total``   counter   sent messages the server acknowledged
``wamd_fleet_store_seconds``        histogram key transactions and creds saves, by ``op``
``wamd_fleet_lease_changes_total``  counter   leases taken, renewed, lost, released
=================================== ========= =============================================

Why not ``prometheus_client``: the format is a few lines of text and stable; the library
keeps one process-wide registry (two fleets in one process, as in the tests, would share
and collide), its server runs on a thread of its own while everything here is one event
loop, and it would be one more dependency on every worker for ~150 lines. Anything that
scrapes Prometheus text (Prometheus, VictoriaMetrics, the OpenTelemetry collector, Grafana
Agent) reads what ``render()`` returns; ``MetricsServer`` serves it at ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = ["CONTENT_TYPE", "FleetMetrics", "MetricsServer", "parse_text"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


@dataclass
class _Family:
    name: str
    kind: str  # counter, gauge, histogram
    help: str
    values: dict[Labels, float] = field(default_factory=dict)
    # histograms: labels -> (bucket counts, sum, count)
    hist: dict[Labels, tuple[list[int], float, int]] = field(default_factory=dict)


class FleetMetrics:
    """The fleet's counters, gauges and histograms; ``render()`` is the scrape."""

    def __init__(self, labels: Mapping[str, str] | None = None) -> None:
        self.base: Labels = tuple(sorted((labels or {}).items()))
        self._families: dict[str, _Family] = {}
        self.collectors: list[Callable[[], None]] = []  # run before each render (gauges)
        for name, kind, text in (
            ("wamd_fleet_accounts", "gauge", "Accounts in this process, by status."),
            ("wamd_fleet_connected_accounts", "gauge", "Accounts whose socket is open."),
            ("wamd_fleet_leases", "gauge", "Account leases this worker holds."),
            ("wamd_fleet_logins_total", "counter", "Connections that reached open."),
            ("wamd_fleet_reconnects_total", "counter", "Reconnects the supervisors scheduled."),
            ("wamd_fleet_disconnects_total", "counter", "Connection closes, by status code."),
            ("wamd_fleet_messages_in_total", "counter", "Incoming messages handed to handlers."),
            ("wamd_fleet_messages_out_total", "counter", "Sent messages the server acked."),
            ("wamd_fleet_store_seconds", "histogram", "Auth store latency, by operation."),
            ("wamd_fleet_lease_changes_total", "counter", "Leases taken, lost, released."),
        ):
            self._families[name] = _Family(name, kind, text)

    def _key(self, labels: Mapping[str, str] | None) -> Labels:
        extra = tuple(sorted((labels or {}).items()))
        return tuple(sorted(self.base + extra))

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        family = self._families[name]
        key = self._key(labels)
        family.values[key] = family.values.get(key, 0.0) + amount

    def set(self, name: str, value: float, **labels: str) -> None:
        self._families[name].values[self._key(labels)] = float(value)

    def clear(self, name: str) -> None:
        self._families[name].values.clear()

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        family = self._families[name]
        key = self._key(labels)
        counts, total, n = family.hist.get(key, ([0] * len(BUCKETS), 0.0, 0))
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                counts[i] += 1
        family.hist[key] = (counts, total + seconds, n + 1)

    def value(self, name: str, **labels: str) -> float:
        """The current value of one series (0 when it has none yet)."""
        return self._families[name].values.get(self._key(labels), 0.0)

    def total(self, name: str) -> float:
        """The sum over every series of a counter or gauge."""
        return sum(self._families[name].values.values())

    def render(self) -> str:
        for collect in list(self.collectors):
            collect()
        lines: list[str] = []
        for family in self._families.values():
            lines.append(f"# HELP {family.name} {family.help}")
            lines.append(f"# TYPE {family.name} {family.kind}")
            if family.kind != "histogram":
                for key, value in sorted(family.values.items()):
                    lines.append(f"{family.name}{_labels(key)} {_number(value)}")
                continue
            for key, (counts, total, n) in sorted(family.hist.items()):
                for bound, count in zip(BUCKETS, counts, strict=True):
                    le = (*key, ("le", _number(bound)))
                    lines.append(f"{family.name}_bucket{_labels(le)} {count}")
                inf = (*key, ("le", "+Inf"))
                lines.append(f"{family.name}_bucket{_labels(inf)} {n}")
                lines.append(f"{family.name}_sum{_labels(key)} {_number(total)}")
                lines.append(f"{family.name}_count{_labels(key)} {n}")
        return "\n".join(lines) + "\n"


def parse_text(text: str) -> dict[str, float]:
    """``{'name{labels}': value}`` from exposition text (for tests and ``wamd fleet``)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        out[series] = float(value)
    return out


class MetricsServer:
    """``GET /metrics`` over HTTP/1.1 on ``host:port`` (0: any free port), in this loop."""

    def __init__(self, metrics: FleetMetrics, host: str = "127.0.0.1", port: int = 0) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                request = await reader.readline()
                while (await reader.readline()).strip():
                    pass  # the headers: nothing in them matters here
            parts = request.decode("latin-1").split()
            if len(parts) >= 2 and parts[0] == "GET" and parts[1].split("?")[0] == "/metrics":
                body, status, kind = self.metrics.render().encode(), "200 OK", CONTENT_TYPE
            else:
                body, status, kind = b"not found: try /metrics\n", "404 Not Found", "text/plain"
            head = (
                f"HTTP/1.1 {status}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, OSError, UnicodeDecodeError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
