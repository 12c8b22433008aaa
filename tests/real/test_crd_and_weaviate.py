"""The project's CRD on the real API server (schema, CEL transition rules) compared with the
emulator, and the project's Weaviate client and copy/validate runs against the real Weaviate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from datamigration_operator.migration.runs.run import copy_run, diff_run
from datamigration_operator.migration.sink.weaviate_sink import connect
from datamigration_sandbox.control_plane import ControlPlane, ControlPlaneThread
from datamigration_sandbox.operator_bench import datamigration_manifest
from datamigration_sandbox.sample_data import generate_database, sample_collections
from tests.integration.migration.conftest import (
    RecordingReporter,
    RunningWeaviate,
    settings,
    weaviate,
)
from tests.real.conftest import REPO, WEAVIATE_API_KEY, RealCluster

__all__ = ["weaviate"]  # the emulated Weaviate fixture

GROUP, VERSION, PLURAL = "migrations.gremlins.ai", "v1alpha1", "datamigrations"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[client.ApiClient]:
    """Our emulator with the same CRDs, for the same requests."""
    plane = ControlPlane(tmp_path_factory.mktemp("emulator"), crd_dir=REPO / "crds")
    thread = ControlPlaneThread(plane)
    info = thread.start()
    api = config.new_client_from_config(info.kubeconfig)
    try:
        yield api
    finally:
        api.close()
        thread.stop()


def _jump_refusal(api: client.ApiClient, namespace: str) -> tuple[int, dict[str, Any]]:
    """Create a DataMigration in migrate, then try migrate -> switch: the status code and body."""
    custom = client.CustomObjectsApi(api)
    body = datamigration_manifest("dm", "app")
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
    with pytest.raises(client.ApiException) as refused:
        custom.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, "dm", {"spec": {"phase": "switch"}}
        )
    stored = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "dm")
    assert stored["spec"]["phase"] == "migrate"
    return refused.value.status, json.loads(refused.value.body)


def test_cel_transition_rule_refuses_migrate_to_switch_as_the_emulator_does(
    real_cluster: RealCluster, namespace: str, emulator: client.ApiClient
) -> None:
    real_code, real = _jump_refusal(real_cluster.api, namespace)
    client.CoreV1Api(emulator).create_namespace({"metadata": {"name": namespace}})
    emulated_code, emulated = _jump_refusal(emulator, namespace)

    message = "spec.phase cannot change from migrate to switch"
    for code, body in ((real_code, real), (emulated_code, emulated)):
        assert code == 422
        assert (body["kind"], body["status"], body["reason"]) == ("Status", "Failure", "Invalid")
        assert message in body["message"]
        assert body["details"]["group"] == GROUP
        assert body["details"]["kind"] == "DataMigration"
        assert body["details"]["name"] == "dm"
    causes = [(c["reason"], c["field"]) for c in real["details"]["causes"]]
    assert causes == [("FieldValueInvalid", "spec.phase")]
    # No difference for this request: the emulator's Status body equals the real one field for
    # field (message with the CEL messageExpression, details, causes); only key order differs.
    assert real == emulated


@pytest.mark.parametrize("spec_order", ["as written", "children first"])
def test_the_project_client_copies_and_validates_against_the_real_weaviate(
    real_cluster: RealCluster, tmp_path: Path, spec_order: str
) -> None:
    """Also with the spec listing messages before the conversations they reference: the real
    Weaviate refuses a reference to an object it does not hold yet, so the copy orders the
    tables by their references."""
    target = real_cluster.weaviate_target
    database = generate_database(tmp_path / "app.db", rows=300)
    collections = sample_collections()
    if spec_order == "children first":
        collections.reverse()
    run = settings(database, tmp_path / "scratch", collections=collections)
    weaviate = connect(target, WEAVIATE_API_KEY)
    try:
        assert weaviate.is_ready()
        assert weaviate.get_meta()["version"] == "1.35.2"
        copied, _ = copy_run(run, weaviate, RecordingReporter())
        diffed = diff_run(run, weaviate, RecordingReporter(), repair=False)
    finally:
        weaviate.collections.delete_all()  # the walk's migration uses the same collections
        weaviate.close()
    assert copied.failed_count == 0, copied
    assert copied.written == copied.rows_read > 0
    assert diffed.differences == 0, diffed
    assert diffed.checked == copied.written


PARENT, CHILD = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b"


def _reference_writes(client: Any) -> list[list[str]]:
    """The per-object errors of three writes of a Child referencing a Parent: alone while the
    Parent is missing, in one batch (one BatchObjects call) after the Parent, then alone again."""
    from weaviate.classes.config import Configure, DataType, Property, ReferenceProperty
    from weaviate.classes.data import DataObject
    from weaviate.exceptions import WeaviateInsertManyAllFailedError

    client.collections.delete_all()
    text = [Property(name="title", data_type=DataType.TEXT)]
    vectors = Configure.Vectors.self_provided()
    client.collections.create("Parent", properties=text, vector_config=vectors)
    child = client.collections.create(
        "Child",
        properties=text,
        references=[ReferenceProperty(name="parent", target_collection="Parent")],
        vector_config=vectors,
    )
    obj = DataObject(properties={"title": "c"}, uuid=CHILD, references={"parent": [PARENT]})
    try:
        errors = [[e.message for e in child.data.insert_many([obj]).errors.values()]]
    except WeaviateInsertManyAllFailedError as every:  # one object: it failed
        errors = [[str(every)]]
    with client.batch.fixed_size(batch_size=10, concurrent_requests=1) as batch:
        batch.add_object("Parent", {"title": "p"}, uuid=PARENT)
        batch.add_object("Child", {"title": "c"}, uuid=CHILD, references={"parent": PARENT})
    errors.append([e.message for e in client.batch.failed_objects])
    errors.append([e.message for e in child.data.insert_many([obj]).errors.values()])
    client.collections.delete_all()
    return errors


def test_a_reference_to_an_object_weaviate_does_not_hold_yet_is_refused_by_both(
    real_cluster: RealCluster, weaviate: RunningWeaviate
) -> None:
    real_target = real_cluster.weaviate_target
    found = {}
    for name, target, key in (
        ("real", real_target, WEAVIATE_API_KEY),
        ("emulator", weaviate.target, None),
    ):
        client = connect(target, key)
        try:
            found[name] = _reference_writes(client)
        finally:
            client.close()
    refusal = f"invalid cref: 'cref' Child:parent: no object with id {PARENT} found"
    for name, (alone, same_batch, after) in found.items():
        assert [refusal in message for message in alone] == [True], (name, alone)
        # validated before any object of the batch is stored: the Parent beside it is not seen
        assert [refusal in message for message in same_batch] == [True], (name, same_batch)
        assert after == [], (name, after)
