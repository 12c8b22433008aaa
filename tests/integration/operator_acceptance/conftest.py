"""The acceptance suite's world: a control plane, the operator as a subprocess (so it can be
SIGKILLed) and Job containers running job_stand_in.py.

One set of tests, two planes. `Sandbox` is what the tests do through the API; a plane adds where
a claim's files live, how the operator reaches the API and how it is killed at an exact moment
(`kill_on_write`). Here the plane is the emulator, in this process (a store listener kills inside
the commit of the object the operator wrote); tests/real/operator_acceptance runs the same tests
on the real servers (a proxy kills after the API server answered, before the answer is passed on).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import sqlite3
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

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
from datamigration_sandbox.kube.resource_kinds import ResourceType
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


def install_job_stand_in(folder: Path) -> Path:
    """`folder`/dmctl running job_stand_in.py with this Python; returns `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    stand_in = folder / "dmctl"
    stand_in.write_text(f"#!{sys.executable} -S\n" + STAND_IN.read_text())
    stand_in.chmod(0o755)
    return folder


@dataclass(frozen=True)
class Written:
    """An object the API server just stored for a create or an update (of any subresource)."""

    verb: Literal["create", "update"]
    group: str
    plural: str
    obj: dict[str, Any]

    @property
    def namespace(self) -> str:
        return str(self.obj.get("metadata", {}).get("namespace", ""))

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.obj.get("data") or {})


WriteTrigger = Callable[[Written], bool]


class KillOnce:
    """SIGKILLs the operator the first time a write matches `trigger`, and returns once it is
    dead: whatever the plane does next (send the answer) the operator never sees."""

    def __init__(self, operator: OperatorProcess, trigger: WriteTrigger) -> None:
        self.operator = operator
        self.trigger = trigger
        self.fired = threading.Event()

    def __call__(self, written: Written) -> None:
        if self.fired.is_set() or not self.trigger(written):
            return
        self.operator.kill()
        deadline = time.monotonic() + 10
        while self.operator.running() and time.monotonic() < deadline:
            time.sleep(0.005)
        self.fired.set()


class Sandbox(ABC):
    """A control plane as the tests use it; the planes differ in the abstract members."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.namespaces: list[str] = []

    @property
    @abstractmethod
    def operator_kubeconfig(self) -> Path:
        """What the operator connects with."""

    @property
    @abstractmethod
    def operator_args(self) -> tuple[str, ...]:
        """Options of the operator process beyond the defaults."""

    @abstractmethod
    def claim_folder(self, ns: str, claim: str) -> Path:
        """The local folder a claim's pods see."""

    @abstractmethod
    def kill_on_write(
        self, operator: OperatorProcess, trigger: WriteTrigger
    ) -> contextlib.AbstractContextManager[KillOnce]:
        """While in the context, SIGKILL `operator` once the API server stored a write matching
        `trigger` and before the operator can read the answer."""

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    # -- the world around a DataMigration ------------------------------------------------------

    def namespace(self, name: str) -> str:
        self.core.create_namespace({"metadata": {"name": name}})
        self.namespaces.append(name)
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
        folder = self.claim_folder(ns, CLAIM)
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


class EmulatedSandbox(Sandbox):
    """The emulator on a thread of this process."""

    def __init__(self, thread: ControlPlaneThread, kubeconfig: Path, api: client.ApiClient) -> None:
        super().__init__(api)
        self.thread = thread
        self.kubeconfig = kubeconfig

    @property
    def operator_kubeconfig(self) -> Path:
        return self.kubeconfig

    @property
    def operator_args(self) -> tuple[str, ...]:
        return ()

    def claim_folder(self, ns: str, claim: str) -> Path:
        return self.thread.plane.runner.claim_dir(ns, claim)

    @contextlib.contextmanager
    def kill_on_write(self, operator: OperatorProcess, trigger: WriteTrigger) -> Iterator[KillOnce]:
        """A store listener: it runs on the sandbox loop inside the commit, before the API
        handler even builds its answer."""
        killer = KillOnce(operator, trigger)
        verbs: dict[str, Literal["create", "update"]] = {"ADDED": "create", "MODIFIED": "update"}

        def listener(
            event: str, rt: ResourceType, obj: dict[str, Any], _old: dict[str, Any] | None
        ) -> None:
            if event in verbs:
                killer(Written(verbs[event], rt.group, rt.plural, obj))

        async def subscribe() -> Callable[[], None]:
            return self.thread.plane.store.subscribe(listener)

        unsubscribe = self.thread.call(subscribe())
        try:
            yield killer
        finally:
            self.thread.loop.call_soon_threadsafe(unsubscribe)


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
    bin_dir = install_job_stand_in(root / "bin")
    plane = ControlPlane(root / "sandbox", crd_dir=REPO / "crds", job_path_prefix=(bin_dir,))
    thread = ControlPlaneThread(plane)
    info = thread.start()
    api = config.new_client_from_config(info.kubeconfig)
    try:
        yield EmulatedSandbox(thread, Path(info.kubeconfig), api)
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
        operator = OperatorProcess(
            self.sandbox.operator_kubeconfig, log, self.sandbox.operator_args, entry="module"
        )
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
