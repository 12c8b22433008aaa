"""`dmctl bench reconcile`: how fast the operator turns a spec.phase patch into a ConfigMap patch
and a status write, how fast a rollback lands, and the operator's memory, on the sandbox.

The sandbox runs in this process (so a store listener timestamps every event with one clock, on
the server side: no polling delay in the figures); the operator runs as a subprocess, so its RSS
is its own. Jobs are a stand-in `dmctl` that exits 0 at once: this measures the operator, not the
migration engine.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import kubernetes
import psutil
from kubernetes.client import (
    ApiClient,
    CoreV1Api,
    CustomObjectsApi,
    V1ConfigMap,
    V1Namespace,
    V1ObjectMeta,
    V1PersistentVolumeClaim,
    V1PersistentVolumeClaimSpec,
    V1VolumeResourceRequirements,
)

from datamigration_operator.api.names import DEFAULT_CONFIGMAP_KEY, GROUP, PLURAL, VERSION
from datamigration_sandbox.benchmark import percentile
from datamigration_sandbox.control_plane import ControlPlane, ControlPlaneThread
from datamigration_sandbox.kube.resource_kinds import ResourceType

NAMESPACE: Final = "bench"
CLAIM: Final = "bench-data"
# How the operator starts: as users run it (`dmctl operator run`, which imports the whole CLI),
# or through the handlers' own entry point (only what the operator needs).
OPERATOR_COMMANDS: Final[dict[str, tuple[str, ...]]] = {
    "dmctl": (sys.executable, "-m", "datamigration_operator.cli.main", "operator", "run"),
    "module": (sys.executable, "-m", "datamigration_operator.handlers"),
}
DM_KEY: Final = (GROUP, PLURAL)
CM_KEY: Final = ("", "configmaps")
# Targets of issue 3's acceptance.
TARGET_CONFIGMAP_P99_MS: Final = 1000.0
TARGET_ROLLBACK_P99_MS: Final = 2000.0
TARGET_RSS_MB: Final = 150.0
TARGET_RSS_DATAMIGRATIONS: Final = 200


@dataclass(frozen=True)
class ReconcileBenchSettings:
    transitions: int = 200
    datamigrations: int = 200
    transition_timeout: float = 30.0
    """Seconds one transition may take before it counts as not completed."""
    settle_seconds: float = 2.0
    """Quiet time before each RSS sample."""
    entry: str = "dmctl"
    """A key of OPERATOR_COMMANDS."""


# -- the operator as a subprocess ---------------------------------------------------------------


class OperatorProcess:
    """The operator as a child process (`dmctl operator run`, or the handlers module entry)
    that can be SIGKILLed and restarted."""

    def __init__(
        self, kubeconfig: Path, log_path: Path, args: Sequence[str] = (), entry: str = "dmctl"
    ) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        # No metrics port unless asked for: several operators may run side by side.
        metrics = () if any(a.startswith("--metrics-port") for a in args) else ("--metrics-port=0",)
        self.command = (*OPERATOR_COMMANDS[entry], *metrics, *args)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the operator is not started")
        return self._process.pid

    def start(self) -> None:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no handler, no cleanup, as when a node dies. Popen skips a process it
        already reaped, so a recycled pid is never signalled."""
        if self._process is not None:
            self._process.kill()

    def stop(self, timeout: float = 10.0) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process.wait()

    def rss_mb(self) -> float:
        return float(psutil.Process(self.pid).memory_info().rss) / 2**20

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def write_job_stand_in(folder: Path) -> Path:
    """A `dmctl` for Job containers that succeeds at once (put first on their PATH)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dmctl"
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return folder


# -- observing the store ------------------------------------------------------------------------


@dataclass
class _Transition:
    name: str
    phase: str
    generation: int
    patched_at: float
    config_map_at: float | None = None
    status_at: float | None = None
    rolled_back_at: float | None = None


@dataclass
class TransitionProbe:
    """A store listener (it runs on the sandbox loop) timestamping, per DataMigration
    generation: the spec.phase change, the ConfigMap value change, the status write for it,
    and RolledBack=True. ConfigMaps are matched to DataMigrations by `config_maps`."""

    namespace: str
    config_maps: dict[str, str] = field(default_factory=dict)
    key: str = DEFAULT_CONFIGMAP_KEY
    transitions: dict[tuple[str, int], _Transition] = field(default_factory=dict)
    _latest: dict[str, _Transition] = field(default_factory=dict)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def __call__(
        self, event: str, rt: ResourceType, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        meta = obj["metadata"]
        if event == "DELETED" or meta.get("namespace") != self.namespace:
            return
        now = time.monotonic()
        with self._changed:
            if rt.key == DM_KEY:
                self._on_datamigration(obj, old, now)
            elif rt.key == CM_KEY and meta["name"] in self.config_maps:
                self._on_config_map(obj, old, now)
            else:
                return
            self._changed.notify_all()

    def _on_datamigration(
        self, obj: dict[str, Any], old: dict[str, Any] | None, now: float
    ) -> None:
        name, generation = obj["metadata"]["name"], obj["metadata"].get("generation", 1)
        phase = obj["spec"].get("phase")
        if old is not None and old["spec"].get("phase") != phase:
            record = _Transition(name, phase, generation, now)
            self.transitions[(name, generation)] = record
            self._latest[name] = record
        latest = self._latest.get(name)
        if latest is None:
            return
        record = latest
        status = obj.get("status") or {}
        if (
            record.status_at is None
            and status.get("phase") == record.phase
            and (status.get("observedGeneration") or 0) >= record.generation
        ):
            record.status_at = now
        rolled_back = any(
            c.get("type") == "RolledBack" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        if record.phase == "rollback" and rolled_back and record.rolled_back_at is None:
            record.rolled_back_at = now

    def _on_config_map(self, obj: dict[str, Any], old: dict[str, Any] | None, now: float) -> None:
        value = (obj.get("data") or {}).get(self.key)
        before = ((old or {}).get("data") or {}).get(self.key)
        record = self._latest.get(self.config_maps[obj["metadata"]["name"]])
        if value != before and record is not None and record.config_map_at is None:
            record.config_map_at = now

    def wait(self, predicate: Callable[[], bool], timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout)


# -- the benchmark ------------------------------------------------------------------------------


def datamigration_manifest(name: str, config_map: str, claim: str = CLAIM) -> dict[str, Any]:
    """A minimal valid DataMigration driving `config_map`."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "DataMigration",
        "metadata": {"name": name},
        "spec": {
            "phase": "migrate",
            "source": {"claimName": claim, "path": "app.db"},
            "target": {
                "http": {"host": "127.0.0.1", "port": 8080},
                "grpc": {"host": "127.0.0.1", "port": 50051},
            },
            # its own collection: of two DataMigrations naming one, the younger is Blocked
            "collections": [{"table": "items", "collection": "Item" + _alnum(name)}],
            "app": {"configMapRef": {"name": config_map}},
        },
    }


def _alnum(name: str) -> str:
    return "".join(ch for ch in name.title() if ch.isalnum())


def _document(value: object) -> dict[str, Any]:
    """The kubernetes client returns custom objects as plain JSON documents."""
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return value


def summary(samples: list[float]) -> dict[str, Any]:
    if not samples:
        return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    return {
        "count": len(samples),
        "p50_ms": round(percentile(samples, 0.5), 1),
        "p99_ms": round(percentile(samples, 0.99), 1),
        "max_ms": round(max(samples), 1),
    }


def target(value: float | None, goal: float) -> dict[str, Any]:
    return {"value": value, "target": goal, "met": value is not None and value <= goal}


@dataclass
class _Bench:
    settings: ReconcileBenchSettings
    plane: ControlPlaneThread
    client: ApiClient
    operator: OperatorProcess
    probe: TransitionProbe

    @property
    def custom(self) -> CustomObjectsApi:
        return CustomObjectsApi(self.client)

    def prepare_namespace(self) -> None:
        core = CoreV1Api(self.client)
        core.create_namespace(V1Namespace(metadata=V1ObjectMeta(name=NAMESPACE)))
        claim = V1PersistentVolumeClaim(
            metadata=V1ObjectMeta(name=CLAIM),
            spec=V1PersistentVolumeClaimSpec(
                access_modes=["ReadWriteMany"],
                resources=V1VolumeResourceRequirements(requests={"storage": "1Gi"}),
            ),
        )
        core.create_namespaced_persistent_volume_claim(NAMESPACE, claim)

    def create_datamigrations(self) -> list[str]:
        core = CoreV1Api(self.client)
        names = [f"dm-{i:03d}" for i in range(self.settings.datamigrations)]
        for name in names:
            config_map = f"{name}-app"
            self.probe.config_maps[config_map] = name
            body = V1ConfigMap(
                metadata=V1ObjectMeta(name=config_map),
                data={DEFAULT_CONFIGMAP_KEY: "sqlite_only"},
            )
            core.create_namespaced_config_map(NAMESPACE, body)
            self.custom.create_namespaced_custom_object(
                GROUP, VERSION, NAMESPACE, PLURAL, datamigration_manifest(name, config_map)
            )
        return names

    def wait_all_migrated(self, names: list[str]) -> None:
        """Every copy Job succeeded, so dual-write may start."""
        deadline = time.monotonic() + max(60.0, 0.5 * len(names))
        pending = set(names)
        items: dict[str, Any] = {"items": []}
        while pending and time.monotonic() < deadline:
            items = _document(
                self.custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)
            )
            done = {
                item["metadata"]["name"]
                for item in items["items"]
                if (item.get("status") or {}).get("state") == "Succeeded"
            }
            pending -= done
            if pending:
                time.sleep(0.2)
        if pending:
            first = sorted(pending)[0]
            status = next(
                (i.get("status") for i in items["items"] if i["metadata"]["name"] == first), None
            )
            raise RuntimeError(
                f"{len(pending)} DataMigrations never finished phase migrate, e.g. "
                f"{first} (status {json.dumps(status)}); operator log: {self.operator.log_path}"
            )

    def settled_rss(self) -> float:
        time.sleep(self.settings.settle_seconds)
        return round(self.operator.rss_mb(), 1)

    def run_transitions(self, names: list[str]) -> list[_Transition]:
        """dual-write then rollback on one DataMigration after another, one at a time."""
        done: list[_Transition] = []
        for index in range(self.settings.transitions):
            name = names[(index // 2) % len(names)]
            phase = "dual-write" if index % 2 == 0 else "rollback"
            patched = _document(
                self.custom.patch_namespaced_custom_object(
                    GROUP, VERSION, NAMESPACE, PLURAL, name, {"spec": {"phase": phase}}
                )
            )
            key = (name, int(patched["metadata"]["generation"]))

            def complete(key: tuple[str, int] = key, phase: str = phase) -> bool:
                record = self.probe.transitions.get(key)
                return (
                    record is not None
                    and record.config_map_at is not None
                    and record.status_at is not None
                    and (phase != "rollback" or record.rolled_back_at is not None)
                )

            self.probe.wait(complete, self.settings.transition_timeout)
            record = self.probe.transitions.get(key)
            if record is not None:
                done.append(record)
        return done


def run_reconcile_benchmark(
    settings: ReconcileBenchSettings, crd_dir: Path, work_dir: Path | None = None
) -> dict[str, Any]:
    """Runs the benchmark; figures and targets as one JSON-ready document."""
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dm-bench-")))
        stand_in = write_job_stand_in(work_dir / "bin")
        plane = ControlPlaneThread(
            ControlPlane(work_dir / "sandbox", crd_dir=crd_dir, job_path_prefix=(stand_in,))
        )
        info = plane.start()
        stack.callback(plane.stop)
        probe = TransitionProbe(NAMESPACE)
        unsubscribe = plane.call(_subscribe(plane, probe))
        stack.callback(unsubscribe)
        client: ApiClient = kubernetes.config.new_client_from_config(  # type: ignore[no-untyped-call]
            info.kubeconfig
        )
        stack.callback(client.close)
        operator = OperatorProcess(
            Path(info.kubeconfig), work_dir / "operator.log", entry=settings.entry
        )
        bench = _Bench(settings, plane, client, operator, probe)
        bench.prepare_namespace()
        operator.start()
        stack.callback(operator.stop)
        wait_operator_ready(bench.custom, operator)
        rss_idle = bench.settled_rss()
        names = bench.create_datamigrations()
        bench.wait_all_migrated(names)
        rss_loaded = bench.settled_rss()
        records = bench.run_transitions(names)
        return _report(settings, records, rss_idle, rss_loaded)


async def _subscribe(plane: ControlPlaneThread, probe: TransitionProbe) -> Callable[[], None]:
    """Subscribes on the sandbox loop (the store is not thread-safe); the returned function
    unsubscribes from any thread."""
    unsubscribe = plane.plane.store.subscribe(probe)

    def from_any_thread() -> None:
        plane.loop.call_soon_threadsafe(unsubscribe)

    return from_any_thread


def wait_operator_ready(custom: CustomObjectsApi, operator: OperatorProcess) -> None:
    """The operator serves once it wrote status for a canary DataMigration (then deleted:
    the idle figure is for an operator with nothing to do)."""
    canary = datamigration_manifest("canary", "canary-app")
    custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, canary)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if not operator.running():
                raise RuntimeError(f"the operator exited:\n{operator.log()[-4000:]}")
            obj = _document(
                custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "canary")
            )
            if (obj.get("status") or {}).get("observedGeneration"):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the operator never reconciled:\n{operator.log()[-4000:]}")
    finally:
        custom.delete_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, "canary")


def _report(
    settings: ReconcileBenchSettings,
    records: list[_Transition],
    rss_idle: float,
    rss_loaded: float,
) -> dict[str, Any]:
    def millis(pairs: Iterator[tuple[float | None, float]]) -> list[float]:
        return [(end - start) * 1000 for end, start in pairs if end is not None]

    to_config_map = millis((r.config_map_at, r.patched_at) for r in records)
    to_status = millis((r.status_at, r.patched_at) for r in records)
    rollbacks = [r for r in records if r.phase == "rollback"]
    to_rolled_back = millis((r.rolled_back_at, r.patched_at) for r in rollbacks)
    completed = sum(
        1
        for r in records
        if r.config_map_at is not None
        and r.status_at is not None
        and (r.phase != "rollback" or r.rolled_back_at is not None)
    )
    config_map = summary(to_config_map)
    rollback = summary(to_rolled_back)
    return {
        "benchmark": "reconcile",
        "settings": {
            "transitions": settings.transitions,
            "datamigrations": settings.datamigrations,
            "transition_timeout_s": settings.transition_timeout,
            "operator_command": " ".join(OPERATOR_COMMANDS[settings.entry][1:]),
        },
        "transitions": {"requested": settings.transitions, "completed": completed},
        "patch_to_configmap": config_map,
        "patch_to_status": summary(to_status),
        "rollback_to_rolled_back": rollback,
        "operator_rss_mb": {"idle": rss_idle, "loaded": rss_loaded},
        "targets": {
            "configmap_p99_ms": target(config_map["p99_ms"], TARGET_CONFIGMAP_P99_MS),
            "rollback_p99_ms": target(rollback["p99_ms"], TARGET_ROLLBACK_P99_MS),
            f"rss_mb_with_{TARGET_RSS_DATAMIGRATIONS}_datamigrations": {
                **target(rss_loaded, TARGET_RSS_MB),
                "measured_with": settings.datamigrations,
            },
        },
    }
