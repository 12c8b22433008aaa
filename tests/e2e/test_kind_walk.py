"""On kind: the operator Deployment from manifests/, a real Weaviate, a seeded SQLite PVC, the
sample app from manifests/sample-app under a load generator, and a DataMigration walked through
every phase with the operator's real Jobs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import kubernetes
import yaml

from tests.e2e.conftest import APP_IMAGE, IMAGE, ROOT, run

NS, NAME, ROWS = "chat", "chat-history", 2_000
OPERATOR_NS = "datamigration-system"
WEAVIATE_IMAGE = "cr.weaviate.io/semitechnologies/weaviate:1.32.0"
API_KEY = "e2e-key-0b7d"  # a throwaway key of a throwaway cluster
APP_UID = 10001  # manifests/sample-app runs as this user


def _load_job() -> dict[str, Any]:
    """The load generator in the cluster; it exits 0 only if no request failed and every
    acknowledged write reads back."""
    container = {
        "name": "load",
        "image": APP_IMAGE,
        "imagePullPolicy": "Never",
        "command": ["dmctl", "sample-app", "load", "--url", "http://chat-app:8080"],
        "args": ["--rate", "20", "--duration", "90"],
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": APP_UID,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "load", "namespace": NS},
        "spec": {
            "backoffLimit": 0,
            "template": {"spec": {"restartPolicy": "Never", "containers": [container]}},
        },
    }


def _apply(kubeconfig: Path, documents: list[dict[str, Any]]) -> None:
    path = kubeconfig.parent / f"apply-{time.monotonic_ns()}.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    run("kubectl", "apply", "-f", str(path), kubeconfig=kubeconfig)


def _weaviate() -> list[dict[str, Any]]:
    labels = {"app": "weaviate"}
    env = {
        "AUTHENTICATION_APIKEY_ENABLED": "true",
        "AUTHENTICATION_APIKEY_ALLOWED_KEYS": API_KEY,
        "AUTHENTICATION_APIKEY_USERS": "e2e",
        "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "false",
        "PERSISTENCE_DATA_PATH": "/var/lib/weaviate",
        "DEFAULT_VECTORIZER_MODULE": "none",
        "CLUSTER_HOSTNAME": "node1",
    }
    container = {
        "name": "weaviate",
        "image": WEAVIATE_IMAGE,
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "ports": [{"containerPort": 8080}, {"containerPort": 50051}],
        "readinessProbe": {"httpGet": {"path": "/v1/.well-known/ready", "port": 8080}},
    }
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "weaviate"}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "weaviate", "namespace": "weaviate"},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "weaviate", "namespace": "weaviate"},
            "spec": {
                "selector": labels,
                "ports": [
                    {"name": "http", "port": 8080},
                    {"name": "grpc", "port": 50051},
                ],
            },
        },
    ]


def _app() -> list[dict[str, Any]]:
    """The app's namespace, ConfigMap, Weaviate key, PVC, and a Job that seeds the database."""
    seed = {
        "name": "seed",
        "image": APP_IMAGE,
        "imagePullPolicy": "Never",
        "command": [
            "sh",
            "-c",
            f"dmctl sample-db /data/app.db --rows {ROWS} && chown -R {APP_UID}:{APP_UID} /data",
        ],
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        # kind's local-path volumes belong to root: the seeding Job (test set-up only) may write,
        # and hands the database to the app's user.
        "securityContext": {"runAsUser": 0},
    }
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "chat-app", "namespace": NS},
            "data": {"migration_mode": "sqlite_only"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "weaviate-auth", "namespace": NS},
            "stringData": {"api-key": API_KEY},
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "chat-data", "namespace": NS},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "seed", "namespace": NS},
            "spec": {
                "backoffLimit": 0,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [seed],
                        "volumes": [
                            {"name": "data", "persistentVolumeClaim": {"claimName": "chat-data"}}
                        ],
                    }
                },
            },
        },
    ]


def _datamigration() -> dict[str, Any]:
    host = "weaviate.weaviate.svc.cluster.local"
    return {
        "apiVersion": "migrations.gremlins.ai/v1alpha1",
        "kind": "DataMigration",
        "metadata": {"name": NAME, "namespace": NS},
        "spec": {
            "phase": "migrate",
            "source": {"claimName": "chat-data", "path": "app.db"},
            "target": {
                "http": {"host": host, "port": 8080},
                "grpc": {"host": host, "port": 50051},
                "apiKeySecretRef": {"name": "weaviate-auth", "key": "api-key"},
            },
            "collections": [
                {"table": "conversations", "collection": "Conversation"},
                {
                    "table": "messages",
                    "collection": "Message",
                    "references": [{"column": "conversation_id", "targetTable": "conversations"}],
                },
                {"table": "documents", "collection": "Document", "vectorColumn": "embedding"},
            ],
            "app": {
                "configMapRef": {"name": "chat-app"},
                "workloads": [{"kind": "Deployment", "name": "chat-app"}],
            },
            "jobTemplate": {"image": IMAGE, "imagePullPolicy": "Never"},
        },
    }


def _wait_phase(api: Any, phase: str, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dm: dict[str, Any] = api.get_namespaced_custom_object(
            "migrations.gremlins.ai", "v1alpha1", NS, "datamigrations", NAME
        )
        status = dm.get("status") or {}
        current = status.get("observedGeneration") == dm["metadata"]["generation"]
        if current and status.get("phase") == phase:
            assert status.get("state") != "Failed", status.get("message")
            if status.get("state") == "Succeeded":
                return dm
        time.sleep(2)
    raise AssertionError(f"{phase} did not succeed within {timeout} s: {dm.get('status')}")


def test_walk_on_kind(kind_cluster: Path) -> None:
    kc = kind_cluster
    run("kubectl", "apply", "-k", str(ROOT / "manifests"), kubeconfig=kc)
    deployment = "deployment/datamigration-operator"
    run(
        "kubectl", "-n", OPERATOR_NS, "set", "image", deployment, f"operator={IMAGE}", kubeconfig=kc
    )
    run(
        "kubectl", "-n", OPERATOR_NS, "set", "env", deployment,
        f"DATAMIGRATION_JOB_IMAGE={IMAGE}", kubeconfig=kc,
    )  # fmt: skip
    run("kubectl", "-n", OPERATOR_NS, "patch", deployment, "--type", "json", "-p",
        '[{"op":"add","path":"/spec/template/spec/containers/0/imagePullPolicy","value":"Never"}]',
        kubeconfig=kc)  # fmt: skip
    _apply(kc, _weaviate())
    _apply(kc, _app())
    for namespace, what in ((OPERATOR_NS, deployment), ("weaviate", "deployment/weaviate")):
        run("kubectl", "-n", namespace, "rollout", "status", what, "--timeout=300s", kubeconfig=kc)
    run("kubectl", "-n", NS, "wait", "--for=condition=complete", "job/seed", "--timeout=300s",
        kubeconfig=kc)  # fmt: skip
    run("kubectl", "apply", "-n", NS, "-k", str(ROOT / "manifests/sample-app"), kubeconfig=kc)
    run("kubectl", "-n", NS, "set", "image", "deployment/chat-app", f"app={APP_IMAGE}",
        kubeconfig=kc)  # fmt: skip
    run("kubectl", "-n", NS, "patch", "deployment/chat-app", "--type", "json", "-p",
        '[{"op":"add","path":"/spec/template/spec/containers/0/imagePullPolicy","value":"Never"}]',
        kubeconfig=kc)  # fmt: skip
    run("kubectl", "-n", NS, "rollout", "status", "deployment/chat-app", "--timeout=300s",
        kubeconfig=kc)  # fmt: skip

    _apply(kc, [_datamigration()])
    config = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(kc), client_configuration=config)
    with kubernetes.client.ApiClient(config) as client:
        api = kubernetes.client.CustomObjectsApi(client)
        core = kubernetes.client.CoreV1Api(client)
        _wait_phase(api, "migrate")
        _apply(kc, [_load_job()])  # the app keeps writing through every mode change
        for phase in ("dual-write", "validate", "switch"):
            api.patch_namespaced_custom_object(
                "migrations.gremlins.ai", "v1alpha1", NS, "datamigrations", NAME,
                {"spec": {"phase": phase}},
            )  # fmt: skip
            dm = _wait_phase(api, phase)
            if phase == "validate":
                report = dm["status"]["validation"]
                assert report["passed"] is True
                assert report["checked"] >= ROWS  # plus what the app wrote meanwhile
        mode = core.read_namespaced_config_map("chat-app", NS).data["migration_mode"]
        assert mode == "weaviate_primary"
        run("kubectl", "-n", NS, "wait", "--for=condition=complete", "job/load",
            "--timeout=300s", kubeconfig=kc)  # fmt: skip
        api.patch_namespaced_custom_object(
            "migrations.gremlins.ai", "v1alpha1", NS, "datamigrations", NAME,
            {"spec": {"phase": "rollback"}},
        )  # fmt: skip
        _wait_phase(api, "rollback", timeout=60)
        assert (
            core.read_namespaced_config_map("chat-app", NS).data["migration_mode"] == "sqlite_only"
        )
