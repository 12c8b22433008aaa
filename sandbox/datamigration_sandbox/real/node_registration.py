"""The kubelet's Node: registration with a Ready status, and the kube-node-lease heartbeat.

The node lifecycle controller of the real controller manager watches both: the Lease renewal
is the heartbeat (every 10 s, as a real kubelet), the status' Ready condition says the node
runs pods. Without renewals the node turns Unknown after the node monitor grace period and its
pods get evicted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
from datetime import UTC, datetime
from typing import Any

from datamigration_sandbox.real.api_client import ApiClient, ApiStatusError

_log = logging.getLogger(__name__)

LEASE_SECONDS = 40
RENEW_SECONDS = 10.0
HOST_IP = "127.0.0.1"


def now_rfc3339(micro: bool = False) -> str:
    moment = datetime.now(UTC)
    if micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def node_object(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": _arch(),
                "beta.kubernetes.io/os": "linux",
                "beta.kubernetes.io/arch": _arch(),
                "sandbox.gremlins.ai/process-kubelet": "true",
            },
        },
        "spec": {},
    }


def node_status(kubelet_port: int) -> dict[str, Any]:
    now = now_rfc3339()
    cpus = str(os.cpu_count() or 2)
    memory = f"{_memory_kib()}Ki"
    resources = {"cpu": cpus, "memory": memory, "pods": "110", "ephemeral-storage": "100Gi"}
    conditions = [
        _condition("MemoryPressure", "False", "KubeletHasSufficientMemory", now),
        _condition("DiskPressure", "False", "KubeletHasNoDiskPressure", now),
        _condition("PIDPressure", "False", "KubeletHasSufficientPID", now),
        _condition("Ready", "True", "KubeletReady", now, "process kubelet is posting ready status"),
    ]
    return {
        "capacity": resources,
        "allocatable": resources,
        "conditions": conditions,
        "addresses": [
            {"type": "InternalIP", "address": HOST_IP},
            {"type": "Hostname", "address": "localhost"},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}},
        "nodeInfo": {
            "machineID": "",
            "systemUUID": "",
            "bootID": "",
            "kernelVersion": platform.release(),
            "osImage": "local processes (datamigration-operator process kubelet)",
            "containerRuntimeVersion": "process://0.1",
            "kubeletVersion": "v1.32.9",
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": _arch(),
        },
    }


async def register_node(api: ApiClient, name: str, kubelet_port: int) -> None:
    try:
        await api.create("/api/v1/nodes", node_object(name))
    except ApiStatusError as exc:
        if exc.code != 409:
            raise
    await api.merge_patch(f"/api/v1/nodes/{name}/status", {"status": node_status(kubelet_port)})


async def keep_lease(api: ApiClient, name: str) -> None:
    """Create the node's Lease and renew it until cancelled."""
    path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
    while True:
        spec = {
            "holderIdentity": name,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": now_rfc3339(micro=True),
        }
        try:
            try:
                await api.merge_patch(f"{path}/{name}", {"spec": spec})
            except ApiStatusError as exc:
                if exc.code != 404:
                    raise
                await api.create(
                    path,
                    {
                        "apiVersion": "coordination.k8s.io/v1",
                        "kind": "Lease",
                        "metadata": {"name": name, "namespace": "kube-node-lease"},
                        "spec": spec,
                    },
                )
        except (ApiStatusError, OSError, TimeoutError) as exc:
            _log.warning("node lease renewal failed: %s", exc)
        await asyncio.sleep(RENEW_SECONDS)


async def keep_status(api: ApiClient, name: str, kubelet_port: int, period: float = 60.0) -> None:
    """Re-post the Ready status now and then (a real kubelet reports every 5 min at least)."""
    while True:
        await asyncio.sleep(period)
        try:
            await api.merge_patch(
                f"/api/v1/nodes/{name}/status", {"status": node_status(kubelet_port)}
            )
        except (ApiStatusError, OSError, TimeoutError) as exc:
            _log.warning("node status update failed: %s", exc)


def _condition(kind: str, status: str, reason: str, now: str, message: str = "") -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message or reason,
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }


def _arch() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)


def _memory_kib() -> int:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 4 * 1024 * 1024
