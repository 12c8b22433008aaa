"""A namespace with a DataMigration and everything around it, in a FakeApi."""

from __future__ import annotations

import copy
from typing import Any

from datamigration_operator.api.names import (
    ANNOTATION_JOB_GENERATION,
    LABEL_DATAMIGRATION,
    LABEL_MANAGED_BY,
    LABEL_PHASE,
    OPERATOR_NAME,
)
from datamigration_operator.api.resource import DataMigration
from datamigration_operator.kube.client import KubeClient
from datamigration_operator.kube.resources import (
    CONFIGMAPS,
    DATAMIGRATIONS,
    DEPLOYMENTS,
    JOBS,
    PODS,
    PVCS,
    SECRETS,
)
from tests.unit.kube.fake_api import FakeApi

NS, NAME, UID = "apps", "shop", "uid-shop"
SECRET_VALUE = "c3VwZXItc2VjcmV0LWtleQ=="  # must never leave kube/observe


def manifest(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "migrations.gremlins.ai/v1alpha1",
        "kind": "DataMigration",
        "metadata": {"name": NAME, "namespace": NS, "uid": UID, "generation": 3},
        "spec": {
            "phase": "migrate",
            "source": {"claimName": "shop-data", "path": "db/shop.sqlite"},
            "target": {
                "http": {"host": "weaviate", "port": 8080},
                "grpc": {"host": "weaviate", "port": 50051},
                "apiKeySecretRef": {"name": "weaviate-auth", "key": "api-key"},
            },
            "collections": [{"table": "customers", "collection": "Customer"}],
            "app": {"configMapRef": {"name": "shop-config"}},
        },
    }
    body["spec"].update(spec)
    return body


def job(name: str, phase: str, *, uid: str = UID, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {
                LABEL_MANAGED_BY: OPERATOR_NAME,
                LABEL_DATAMIGRATION: NAME,
                LABEL_PHASE: phase,
            },
            "annotations": {ANNOTATION_JOB_GENERATION: "3"},
            "ownerReferences": [{"uid": uid, "controller": True}],
        },
        "status": status,
    }


def populate(api: FakeApi, **spec: Any) -> DataMigration:
    body = manifest(**spec)
    api.put(DATAMIGRATIONS.path(NS, NAME), body)
    api.put(
        CONFIGMAPS.path(NS, "shop-config"),
        {"metadata": {"name": "shop-config"}, "data": {"other": "x"}},
    )
    api.put(
        SECRETS.path(NS, "weaviate-auth"),
        {"metadata": {"name": "weaviate-auth"}, "data": {"api-key": SECRET_VALUE}},
    )
    api.put(
        PVCS.path(NS, "shop-data"),
        {"metadata": {"name": "shop-data"}, "spec": {"accessModes": ["ReadWriteOnce"]}},
    )
    api.put(
        PODS.path(NS, "shop-0"),
        {
            "metadata": {"name": "shop-0", "labels": {"app": "shop"}},
            "spec": {
                "nodeName": "node-b",
                "volumes": [{"name": "db", "persistentVolumeClaim": {"claimName": "shop-data"}}],
            },
            "status": {"phase": "Running"},
        },
    )
    return DataMigration.from_object(copy.deepcopy(body))


def add_deployment(api: FakeApi, name: str, *, rolled: bool) -> None:
    api.put(
        DEPLOYMENTS.path(NS, name),
        {
            "kind": "Deployment",
            "metadata": {"name": name, "generation": 2},
            "spec": {"replicas": 1, "template": {"metadata": {"annotations": {}}}},
            "status": {
                "observedGeneration": 2 if rolled else 1,
                "replicas": 1,
                "updatedReplicas": 1,
                "availableReplicas": 1,
            },
        },
    )


def add_job(api: FakeApi, obj: dict[str, Any]) -> None:
    api.put(JOBS.path(NS, obj["metadata"]["name"]), obj)


def client(api: FakeApi) -> KubeClient:
    return KubeClient(api)
