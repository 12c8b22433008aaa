"""Acceptance (issue 16 item 5): a gradual switch with an injected read mismatch rolls back by
itself at its first step; one without reaches 100 % and weaviate_primary.

The sandbox runs the operator and its real Jobs (copy, sync, validate, analyze); the chat app
runs in this process under load (reads of a few conversations, writes to others) on the claim's
database, its mode and read share read from
a folder this test keeps in step with the ConfigMap the way the kubelet projects a ConfigMap
volume (the atomic `..data` swap). The mismatch is injected by changing objects in Weaviate
directly after validation passed, as a writer that bypasses the dual-write library would.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

from chat_app.chat_store import ChatStore
from chat_app.settings import AppSettings
from datamigration_operator.api.job_contract import JobTarget
from datamigration_operator.api.spec import Endpoint
from datamigration_operator.dualwrite.modes import ModeSource
from datamigration_operator.migration.mapping import object_uuid
from datamigration_sandbox.jobs.atomic_writer import FileProjection, write_payload
from tests.integration.end_to_end.conftest import (
    connect_weaviate,
    custom_objects,
    data_migration,
    migration_world,
    read_migration,
)
from tests.integration.operator.conftest import (
    CLAIM,
    CONFIG_MAP,
    GROUP,
    PLURAL,
    SECRET_VALUE,
    VERSION,
    wait_for,
)

NAMESPACE, NAME, ROWS = "chat", "chat-history", 600
READ_SET = 8  # conversations the readers ask for; the mismatch is in one of them
STEPS = {
    "steps": [
        {
            "readPercent": 25,
            "pause": "3s",
            "analysis": {"minSamples": 30, "maxMismatchPercent": 0, "timeout": "60s"},
        },
        {
            "readPercent": 100,
            "pause": "2s",
            "analysis": {"minSamples": 30, "maxMismatchPercent": 0, "timeout": "60s"},
        },
    ]
}


class ProjectedConfigMap:
    """Keeps a folder equal to the ConfigMap's data, as the kubelet projects the volume."""

    def __init__(self, api: Any, folder: Path) -> None:
        self.core = kubernetes.client.CoreV1Api(api)
        self.folder = folder
        self.stop = threading.Event()
        self.sync()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def sync(self) -> None:
        data = self.core.read_namespaced_config_map(CONFIG_MAP, NAMESPACE).data or {}
        write_payload(self.folder, {k: FileProjection(v.encode(), 0o644) for k, v in data.items()})

    def _run(self) -> None:
        while not self.stop.wait(0.2):
            self.sync()


class Load:
    """Readers asking for a few conversations and their messages all the time, and a writer
    posting messages into other conversations (through the ORM: dual-written)."""

    def __init__(self, store: ChatStore, ids: list[str], elsewhere: list[str]) -> None:
        self.store, self.ids, self.elsewhere = store, ids, elsewhere
        self.stop = threading.Event()
        self.reads = self.writes = 0
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in (1, 2)]
        self.threads.append(threading.Thread(target=self._write, daemon=True))
        for thread in self.threads:
            thread.start()

    def _write(self) -> None:
        chooser = random.Random(3)
        while not self.stop.is_set():
            try:
                self.store.post_message(chooser.choice(self.elsewhere), "user", "still here")
                self.writes += 1
            except BaseException as error:  # the app's writes must never fail
                self.errors.append(error)
            self.stop.wait(0.05)

    def _run(self, seed: int) -> None:
        chooser = random.Random(seed)
        while not self.stop.is_set():
            conversation = chooser.choice(self.ids)
            try:
                assert self.store.conversation(conversation) is not None
                self.store.messages(conversation)
                self.reads += 2
            except BaseException as error:  # the app's reads must never fail
                self.errors.append(error)
            self.stop.wait(0.01)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    base = tmp_path_factory.mktemp("gradual")
    with migration_world(base, NAMESPACE, ROWS) as built:
        built["base"] = base
        yield built


def _patch(world: dict[str, Any], spec: dict[str, Any]) -> None:
    custom_objects(world).patch_namespaced_custom_object(
        GROUP, VERSION, NAMESPACE, PLURAL, NAME, {"spec": spec}
    )


def _settled(world: dict[str, Any], phase: str, state: str, timeout: float = 180) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        dm = read_migration(world, NAMESPACE, NAME)
        status = dm.get("status") or {}
        if status.get("observedGeneration") != dm["metadata"]["generation"]:
            return None
        if status.get("phase") != phase:
            return None
        if status.get("state") == "Failed" and state != "Failed":
            pytest.fail(
                f"{phase} failed: {status.get('message')}\n{world['operator'].log()[-3000:]}"
            )
        return dm if status.get("state") == state else None

    return wait_for(reached, f"{phase} to be {state}", timeout)


def _advance(world: dict[str, Any], phase: str) -> dict[str, Any]:
    _patch(world, {"phase": phase})
    return _settled(world, phase, "Succeeded")


def _set_title(world: dict[str, Any], conversation: str, title: str) -> None:
    """Changes the object in Weaviate directly, behind the app's back."""
    uuid = object_uuid(f"{NAMESPACE}/{NAME}", "conversations", (conversation,))
    with connect_weaviate(world) as client:
        client.collections.get("Conversation").data.update(uuid=uuid, properties={"title": title})


def _config_map(world: dict[str, Any]) -> dict[str, str]:
    core = kubernetes.client.CoreV1Api(world["api"])
    return dict(core.read_namespaced_config_map(CONFIG_MAP, NAMESPACE).data or {})


def _warnings(world: dict[str, Any]) -> list[str]:
    events = kubernetes.client.CoreV1Api(world["api"]).list_namespaced_event(NAMESPACE).items
    return [f"{e.reason}: {e.message}" for e in events if e.type == "Warning"]


@pytest.fixture(scope="module")
def app(world: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The chat app on the claim's database, after validation passed, under read load."""
    http, grpc = world["ports"]
    body = data_migration(world["ports"], NAME, switch=STEPS)
    custom_objects(world).create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, body)
    _settled(world, "migrate", "Succeeded")
    folder = world["base"] / "app-config"
    projected = ProjectedConfigMap(world["api"], folder)
    database = world["plane"].runner.claim_dir(NAMESPACE, CLAIM) / "app.db"
    settings = AppSettings(
        database=database,
        migration=f"{NAMESPACE}/{NAME}",
        weaviate=JobTarget(
            http=Endpoint(host="127.0.0.1", port=http),
            grpc=Endpoint(host="127.0.0.1", port=grpc),
            tls=False,
        ),
        api_key=SECRET_VALUE,
        shadow_read_percent=100,
    )
    registry = CollectorRegistry()
    mode = ModeSource(path=folder, poll_interval=0.1, registry=registry)
    store = ChatStore(settings, mode, registry=registry)
    store.dual_write.read_analysis.window = 0.5  # counts reach the database every half second
    store.start()
    _advance(world, "dual-write")
    _advance(world, "validate")
    with store.sessions() as session:
        query = sa.text("SELECT id FROM conversations ORDER BY id LIMIT :n")
        ids = [str(row[0]) for row in session.execute(query, {"n": 2 * READ_SET})]
    load = Load(store, ids[:READ_SET], ids[READ_SET:])
    try:
        yield {"store": store, "ids": ids, "load": load}
    finally:
        load.close()
        store.close()
        projected.stop.set()


def test_a_read_mismatch_rolls_the_first_step_back_by_itself(
    world: dict[str, Any], app: dict[str, Any]
) -> None:
    victim = app["ids"][0]
    _set_title(world, victim, "changed behind the app's back")
    _patch(world, {"phase": "switch"})
    dm = _settled(world, "switch", "Failed")
    status = dm["status"]
    ready = {c["type"]: c for c in status["conditions"]}
    assert ready["ReadsSwitched"]["reason"] == "SwitchAnalysisFailed"
    step = status["switch"]["steps"][0]
    assert (step["step"], step["readPercent"], step["result"]) == (1, 25, "Failed")
    assert step["mismatched"] > 0
    assert len(status["switch"]["steps"]) == 1  # never went past the first step
    data = _config_map(world)
    assert data["migration_mode"] == "dual_write"
    assert "migration_mode_read_percent" not in data  # reads back on SQLite
    # the operator posts its events after the status patch read above: wait for it
    wait_for(
        lambda: any(
            w.startswith(
                "SwitchAnalysisFailed: step 1 (25 % of reads from Weaviate): read mismatch"
            )
            for w in _warnings(world)
        ),
        "the SwitchAnalysisFailed Warning event",
        30,
    )
    wait_for(lambda: app["store"].reads.read_percent() == 0, "the app to read SQLite only", 10)
    assert app["load"].errors == []
    # repair the object and validate again: the user's way back
    original = app["store"].conversation(victim)["title"]
    _set_title(world, victim, original)
    _advance(world, "validate")


def test_a_switch_without_mismatch_walks_to_weaviate_primary(
    world: dict[str, Any], app: dict[str, Any]
) -> None:
    _patch(world, {"phase": "switch"})
    dm = _settled(world, "switch", "Succeeded", timeout=240)
    status = dm["status"]
    steps = status["switch"]["steps"]
    assert [(s["readPercent"], s["result"]) for s in steps] == [(25, "Passed"), (100, "Passed")]
    assert all(s["compared"] >= 30 and s["mismatched"] == 0 for s in steps)
    assert {c["type"]: c["status"] for c in status["conditions"]}["ReadsSwitched"] == "True"
    data = _config_map(world)
    assert data["migration_mode"] == "weaviate_primary"
    assert "migration_mode_read_percent" not in data
    wait_for(lambda: app["store"].reads.read_percent() == 100, "the app to read Weaviate", 10)
    assert app["load"].errors == []
    assert app["load"].reads > 0
    assert app["load"].writes > 0
