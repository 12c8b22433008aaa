"""The sandbox in this process (so a store listener can act at an exact moment) and the operator
as a subprocess (so it can be SIGKILLed), with Job containers running job_stand_in.py."""

from __future__ import annotations

import copy
import hashlib
import json
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from datamigration_operator.api.names import (
    DEFAULT_CONFIGMAP_KEY,
    GROUP,
    LABEL_DATAMIGRATION,
    LABEL_PHASE,
    PLURAL,
    VERSION,
)
from datamigration_sandbox.control_plane import ControlPlane, ControlPlaneThread
from datamigration_sandbox.kube.store import Listener
from datamigration_sandbox.operator_bench import OperatorProcess, datamigration_manifest

REPO = Path(__file__).resolve().parents[3]
STAND_IN = Path(__file__).with_name("job_stand_in.py")
CLAIM = "data"
CONFIG_MAP = "app"
TABLES = ("items", "tags")


def eventually(probe: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Polls until `probe` returns something truthy (generous: the machine is shared)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class Sandbox:
    thread: ControlPlaneThread
    kubeconfig: Path
    api: client.ApiClient

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    # -- listeners on the sandbox loop ---------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        async def on_loop() -> Callable[[], None]:
            return self.thread.plane.store.subscribe(listener)

        unsubscribe = self.thread.call(on_loop())
        return lambda: self.thread.loop.call_soon_threadsafe(unsubscribe)

    # -- the world around a DataMigration ------------------------------------------------------

    def namespace(self, name: str) -> str:
        self.core.create_namespace({"metadata": {"name": name}})
        return name

    def config_map(
        self,
        ns: str,
        name: str = CONFIG_MAP,
        value: str | None = "sqlite_only",
        annotations: dict[str, str | None] | None = None,
    ) -> None:
        data = {"other": "kept"}
        if value is not None:
            data[DEFAULT_CONFIGMAP_KEY] = value
        kept = {k: v for k, v in (annotations or {}).items() if v is not None}
        meta = {"name": name, "annotations": kept}
        self.core.create_namespaced_config_map(ns, {"metadata": meta, "data": data})

    def claim(
        self, ns: str, tables: tuple[str, ...] = TABLES, behaviour: dict[str, str] | None = None
    ) -> Path:
        """A PVC whose folder holds app.db with `tables` (and standin.json)."""
        self.core.create_namespaced_persistent_volume_claim(
            ns,
            {
                "metadata": {"name": CLAIM},
                "spec": {
                    "accessModes": ["ReadWriteMany"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            },
        )
        folder = self.thread.plane.runner.claim_dir(ns, CLAIM)
        with sqlite3.connect(folder / "app.db") as db:
            for table in tables:
                db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT)")
        if behaviour is not None:
            (folder / "standin.json").write_text(json.dumps(behaviour))
        return folder

    def secret(self, ns: str, name: str, data: dict[str, str]) -> None:
        self.core.create_namespaced_secret(
            ns, {"metadata": {"name": name}, "stringData": data, "type": "Opaque"}
        )

    # -- DataMigrations ------------------------------------------------------------------------

    def create_dm(self, ns: str, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """Creates `body` in `ns`; collections named by `manifest()`'s defaults get this
        DataMigration's own names (one Weaviate endpoint serves every test, and of two
        DataMigrations naming one collection the younger is Blocked)."""
        body = copy.deepcopy(body)
        for mapping in body["spec"].get("collections") or []:
            if mapping.get("collection") in DEFAULT_COLLECTIONS:
                mapping["collection"] += hashlib.sha256(ns.encode()).hexdigest()[:12]
        result: dict[str, Any] = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, ns, PLURAL, body, **kwargs
        )
        return result

    def patch_dm(self, ns: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, ns, PLURAL, name, patch
        )
        return result

    def dm(self, ns: str, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, ns, PLURAL, name
            )
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return result

    def status(self, ns: str, name: str) -> dict[str, Any]:
        return (self.dm(ns, name) or {}).get("status") or {}

    def jobs(self, ns: str, dm: str, phase: str | None = None) -> list[Any]:
        selector = f"{LABEL_DATAMIGRATION}={dm}"
        if phase is not None:
            selector += f",{LABEL_PHASE}={phase}"
        return list(self.batch.list_namespaced_job(ns, label_selector=selector).items)

    def config_map_data(self, ns: str, name: str = CONFIG_MAP) -> tuple[dict[str, str], dict]:
        cm = self.core.read_namespaced_config_map(name, ns)
        return dict(cm.data or {}), dict(cm.metadata.annotations or {})

    def warnings(self, ns: str, name: str) -> list[Any]:
        events = self.core.list_namespaced_event(
            ns, field_selector=f"involvedObject.name={name},type=Warning"
        )
        return list(events.items)


DEFAULT_COLLECTIONS = ("Item", "Tag")


def manifest(name: str = "dm", **spec: Any) -> dict[str, Any]:
    """A valid DataMigration mapping TABLES, with spec fields overridden by `spec`."""
    body = datamigration_manifest(name, CONFIG_MAP, CLAIM)
    body["spec"]["collections"] = [
        {"table": "items", "collection": "Item"},
        {"table": "tags", "collection": "Tag"},
    ]
    body["spec"].update(copy.deepcopy(spec))
    return body


def condition(status: dict[str, Any], type_: str) -> dict[str, Any]:
    found = [c for c in status.get("conditions") or [] if c.get("type") == type_]
    return found[0] if found else {}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    root = tmp_path_factory.mktemp("acceptance")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "dmctl"
    stand_in.write_text(f"#!{sys.executable} -S\n" + STAND_IN.read_text())
    stand_in.chmod(0o755)
    plane = ControlPlane(root / "sandbox", crd_dir=REPO / "crds", job_path_prefix=(bin_dir,))
    thread = ControlPlaneThread(plane)
    info = thread.start()
    api = config.new_client_from_config(info.kubeconfig)
    try:
        yield Sandbox(thread, Path(info.kubeconfig), api)
    finally:
        api.close()
        thread.stop()


@dataclass
class Operators:
    """Starts operator processes; stops every one of them at teardown."""

    sandbox: Sandbox
    log_dir: Path
    started: list[OperatorProcess]

    def start(self) -> OperatorProcess:
        """`python -m datamigration_operator.handlers`: the operator without the CLI's imports,
        so restarts are quick (`dmctl operator run` itself runs in test_bench_reconcile)."""
        log = self.log_dir / f"operator-{len(self.started)}.log"
        operator = OperatorProcess(self.sandbox.kubeconfig, log, entry="module")
        operator.start()
        self.started.append(operator)
        return operator

    def logs(self) -> str:
        return "\n".join(f"--- {o.log_path.name}\n{o.log()[-3000:]}" for o in self.started)

    def kill_all(self) -> None:
        """SIGKILL at teardown: a graceful kopf exit waits ~5 s for idle object streams, and
        surviving a kill is what this suite is about anyway."""
        for operator in self.started:
            operator.kill()
            operator.stop()  # reaps it


@pytest.fixture
def operators(sandbox: Sandbox, tmp_path: Path) -> Iterator[Operators]:
    running = Operators(sandbox, tmp_path, [])
    try:
        yield running
    finally:
        running.kill_all()
