"""A container's readinessProbe as the kubelet runs it: httpGet and tcpSocket against 127.0.0.1.

The pod IP of every sandbox pod is 127.0.0.1, so the probe connects there. An httpGet succeeds
on a status in [200, 400), as the kubelet's prober; a tcpSocket on an accepted connection.
exec and grpc probes are not emulated: `parse_probe` rejects them with a clear message and the
container stays unready (it never passes a probe the sandbox cannot run).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from datamigration_sandbox.jobs.pod_status import HOST_IP


class ProbeConfigError(ValueError):
    """A readinessProbe the sandbox cannot run."""


@dataclass(frozen=True)
class ProbeSpec:
    kind: str  # "httpGet" | "tcpSocket"
    port: int
    path: str
    scheme: str
    headers: tuple[tuple[str, str], ...]
    initial_delay: float
    period: float
    timeout: float
    success_threshold: int
    failure_threshold: int


def parse_probe(container: Mapping[str, Any], field: str = "readinessProbe") -> ProbeSpec | None:
    """The container's readinessProbe (or `field`: livenessProbe) with the API defaults filled
    in; None when it has none."""
    probe = container.get(field)
    if not probe:
        return None
    if "httpGet" in probe:
        kind, action = "httpGet", probe["httpGet"] or {}
    elif "tcpSocket" in probe:
        kind, action = "tcpSocket", probe["tcpSocket"] or {}
    else:
        kinds = sorted(k for k in probe if k in ("exec", "grpc"))
        raise ProbeConfigError(f"sandbox: {field} {kinds or list(probe)} is not supported")
    scheme = str(action.get("scheme", "HTTP")).upper()
    if scheme not in ("HTTP", "HTTPS"):
        raise ProbeConfigError(f"{field}: unsupported scheme {scheme!r}")
    headers = tuple(
        (str(h.get("name", "")), str(h.get("value", ""))) for h in action.get("httpHeaders") or []
    )
    return ProbeSpec(
        kind=kind,
        port=_resolve_port(action.get("port"), container, field),
        path=str(action.get("path") or "/"),
        scheme=scheme,
        headers=headers,
        initial_delay=float(probe.get("initialDelaySeconds", 0)),
        period=float(probe.get("periodSeconds", 10)),
        timeout=float(probe.get("timeoutSeconds", 1)),
        success_threshold=int(probe.get("successThreshold", 1)),
        failure_threshold=int(probe.get("failureThreshold", 3)),
    )


def _resolve_port(port: Any, container: Mapping[str, Any], field: str) -> int:
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        number = int(port)
        if 0 < number < 65536:
            return number
        raise ProbeConfigError(f"{field}: port {number} is out of range")
    for declared in container.get("ports") or []:
        if declared.get("name") == port and declared.get("containerPort"):
            return int(declared["containerPort"])
    raise ProbeConfigError(f"{field}: port {port!r} names no containerPort")


class ReadinessTracker:
    """Thresholds: ready after `success_threshold` successes in a row, unready after
    `failure_threshold` failures in a row; a container starts unready."""

    def __init__(self, spec: ProbeSpec) -> None:
        self._spec = spec
        self.ready = False
        self._streak = 0  # > 0: successes in a row, < 0: failures in a row

    def record(self, success: bool) -> bool:
        """Count one result; True when readiness flipped."""
        if success:
            self._streak = self._streak + 1 if self._streak > 0 else 1
        else:
            self._streak = self._streak - 1 if self._streak < 0 else -1
        before = self.ready
        if self._streak >= self._spec.success_threshold:
            self.ready = True
        elif -self._streak >= self._spec.failure_threshold:
            self.ready = False
        return self.ready != before


async def probe_once(spec: ProbeSpec, host: str = HOST_IP) -> bool:
    """One probe attempt, bounded by the probe's timeout."""
    try:
        async with asyncio.timeout(spec.timeout):  # not wait_for: it can swallow a cancel
            return await _attempt(spec, host)
    except (TimeoutError, OSError, ValueError):
        return False


async def _attempt(spec: ProbeSpec, host: str) -> bool:
    context: ssl.SSLContext | None = None
    if spec.scheme == "HTTPS":  # the kubelet does not verify the container's certificate
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    reader, writer = await asyncio.open_connection(host, spec.port, ssl=context)
    try:
        if spec.kind == "tcpSocket":
            return True
        headers = {"Host": f"{host}:{spec.port}", "User-Agent": "kube-probe/1.32", "Accept": "*/*"}
        headers.update(dict(spec.headers))
        lines = [f"GET {spec.path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
        writer.write(("\r\n".join([*lines, "Connection: close", "", ""])).encode("latin-1"))
        await writer.drain()
        status_line = await reader.readline()
        parts = status_line.decode("latin-1").split()
        return len(parts) >= 2 and parts[1].isdigit() and 200 <= int(parts[1]) < 400
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
