"""The per-DataMigration ServiceAccount, Role and RoleBinding of its Jobs."""

from __future__ import annotations

from datamigration_operator.builders.job_access import build_job_access
from datamigration_operator.reconcile.job_names import MAX_JOB_NAME, job_account_name
from tests.unit.reconcile.scenario import datamigration


def test_three_objects_owned_by_the_datamigration_with_our_labels() -> None:
    name = job_account_name("shop")
    account, role, binding = build_job_access(datamigration(), name)
    assert [o["kind"] for o in (account, role, binding)] == [
        "ServiceAccount",
        "Role",
        "RoleBinding",
    ]
    for obj in (account, role, binding):
        meta = obj["metadata"]
        assert (meta["name"], meta["namespace"]) == (name, "apps")
        assert meta["labels"] == {
            "app.kubernetes.io/managed-by": "datamigration-operator",
            "migrations.gremlins.ai/datamigration": "shop",
        }
        (owner,) = meta["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
            "DataMigration",
            "shop",
            "u-1",
            True,
        )
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": name,
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": name, "namespace": "apps"}]


def test_the_role_reaches_only_its_own_datamigration_status_and_creates_configmaps() -> None:
    _, role, _ = build_job_access(datamigration(), job_account_name("shop"))
    assert role["rules"] == [
        {
            "apiGroups": ["migrations.gremlins.ai"],
            "resources": ["datamigrations/status"],
            "resourceNames": ["shop"],
            "verbs": ["get", "patch"],
        },
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
    ]


def test_account_names_are_deterministic_bounded_and_distinct() -> None:
    long = "a" * 80
    names = {job_account_name(n) for n in ("shop", "shop2", long, long + "b", "x.y")}
    assert len(names) == 5
    assert job_account_name("shop") == job_account_name("shop")
    assert job_account_name("shop").startswith("shop-job-")
    assert all(len(n) <= MAX_JOB_NAME and "." not in n for n in names)
