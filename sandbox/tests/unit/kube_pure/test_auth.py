from __future__ import annotations

from typing import Any

import pytest

from datamigration_sandbox.kube.auth import (
    Authenticator,
    RbacObjects,
    RequestAttributes,
    UserInfo,
    is_allowed,
)

GROUP = "migrations.gremlins.ai"
JOB_SA = "system:serviceaccount:apps:dm-job"


def _meta(name: str, namespace: str | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _binding(
    name: str, namespace: str | None, kind: str, role: str, *subjects: dict[str, Any]
) -> dict[str, Any]:
    return {
        "metadata": _meta(name, namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
        "subjects": list(subjects),
    }


@pytest.fixture
def rbac() -> RbacObjects:
    return RbacObjects(
        roles=[
            {
                "metadata": _meta("status-writer", "apps"),
                "rules": [
                    {
                        "apiGroups": [GROUP],
                        "resources": ["datamigrations/status"],
                        "verbs": ["get", "patch"],
                        "resourceNames": ["dm"],
                    },
                    {"apiGroups": [GROUP], "resources": ["datamigrations"], "verbs": ["get"]},
                ],
            }
        ],
        cluster_roles=[
            {
                "metadata": _meta("pod-reader"),
                "rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["*"]}],
            },
            {
                "metadata": _meta("status-everything"),
                "rules": [{"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["get"]}],
            },
            {
                "metadata": _meta("health"),
                "rules": [{"nonResourceURLs": ["/healthz", "/apis/*"], "verbs": ["get"]}],
            },
            {
                "metadata": _meta("aggregate"),
                "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "yes"}}]},
                "rules": [],
            },
            {
                "metadata": _meta("lease-part", agg="yes"),
                "rules": [
                    {
                        "apiGroups": ["coordination.k8s.io"],
                        "resources": ["leases"],
                        "verbs": ["*"],
                    }
                ],
            },
        ],
        role_bindings=[
            _binding(
                "job", "apps", "Role", "status-writer", {"kind": "ServiceAccount", "name": "dm-job"}
            ),
            _binding(
                "readers", "apps", "ClusterRole", "pod-reader", {"kind": "Group", "name": "devs"}
            ),
        ],
        cluster_role_bindings=[
            _binding(
                "alice", None, "ClusterRole", "status-everything", {"kind": "User", "name": "alice"}
            ),
            _binding(
                "health",
                None,
                "ClusterRole",
                "health",
                {"kind": "Group", "name": "system:authenticated"},
            ),
            _binding(
                "leases",
                None,
                "ClusterRole",
                "aggregate",
                {"kind": "ServiceAccount", "name": "op", "namespace": "ops"},
            ),
        ],
    )


def _sa(namespace: str, name: str) -> UserInfo:
    authenticator = Authenticator()
    user = authenticator.authenticate(authenticator.mint_service_account_token(namespace, name))
    assert user is not None
    return user


def _res(verb: str, group: str, resource: str, **kw: Any) -> RequestAttributes:
    return RequestAttributes(verb=verb, api_group=group, resource=resource, **kw)


def test_job_service_account_may_patch_its_own_status_and_nothing_more(rbac: RbacObjects) -> None:
    job = _sa("apps", "dm-job")
    assert job.name == JOB_SA
    status = {"subresource": "status", "namespace": "apps"}
    assert is_allowed(job, _res("patch", GROUP, "datamigrations", name="dm", **status), rbac)
    assert not is_allowed(job, _res("patch", GROUP, "datamigrations", name="other", **status), rbac)
    assert not is_allowed(
        job, _res("patch", GROUP, "datamigrations", name="dm", namespace="apps"), rbac
    )
    assert is_allowed(job, _res("get", GROUP, "datamigrations", name="x", namespace="apps"), rbac)
    # the RoleBinding grants nothing outside its namespace
    assert not is_allowed(job, _res("get", GROUP, "datamigrations", name="x", namespace="b"), rbac)
    # a same-named service account elsewhere is a different user
    other = _sa("other", "dm-job")
    assert not is_allowed(
        other, _res("get", GROUP, "datamigrations", name="x", namespace="apps"), rbac
    )


def test_resource_names_never_match_list_watch_or_create(rbac: RbacObjects) -> None:
    job = _sa("apps", "dm-job")
    for verb in ("list", "watch", "create"):
        attrs = _res(verb, GROUP, "datamigrations", subresource="status", namespace="apps")
        assert not is_allowed(job, attrs, rbac)


def test_rolebinding_to_a_clusterrole_is_scoped_to_the_binding_namespace(rbac: RbacObjects) -> None:
    dev = UserInfo("bob", ("devs", "system:authenticated"))
    assert is_allowed(dev, _res("list", "", "pods", namespace="apps"), rbac)
    assert is_allowed(
        dev, _res("get", "", "pods", subresource="log", namespace="apps", name="p"), rbac
    )
    assert not is_allowed(dev, _res("get", "", "pods", subresource="exec", namespace="apps"), rbac)
    assert not is_allowed(dev, _res("list", "", "pods", namespace="kube-system"), rbac)
    assert not is_allowed(dev, _res("list", "", "pods"), rbac)  # all namespaces


def test_star_slash_subresource_rules(rbac: RbacObjects) -> None:
    alice = UserInfo("alice")
    assert is_allowed(
        alice, _res("get", "batch", "jobs", subresource="status", namespace="x"), rbac
    )
    assert not is_allowed(alice, _res("get", "batch", "jobs", namespace="x"), rbac)
    assert not is_allowed(alice, _res("patch", "batch", "jobs", subresource="status"), rbac)


def test_non_resource_urls(rbac: RbacObjects) -> None:
    user = UserInfo("carol", ("system:authenticated",))
    assert is_allowed(user, RequestAttributes("get", "", "", path="/healthz"), rbac)
    assert is_allowed(user, RequestAttributes("get", "", "", path="/apis/batch/v1"), rbac)
    assert not is_allowed(user, RequestAttributes("get", "", "", path="/api/v1"), rbac)
    assert not is_allowed(user, RequestAttributes("post", "", "", path="/healthz"), rbac)


def test_aggregated_cluster_role(rbac: RbacObjects) -> None:
    operator = _sa("ops", "op")
    leases = _res("update", "coordination.k8s.io", "leases", namespace="ops", name="l")
    assert is_allowed(operator, leases, rbac)
    assert not is_allowed(operator, _res("get", "", "pods", namespace="ops"), rbac)


def test_masters_may_do_anything_and_strangers_nothing(rbac: RbacObjects) -> None:
    admin = UserInfo("root", ("system:masters",))
    assert is_allowed(admin, _res("delete", "", "nodes", name="n1"), RbacObjects())
    assert not is_allowed(UserInfo("mallory"), _res("get", "", "pods", namespace="apps"), rbac)


def test_authenticator_tokens() -> None:
    admin = UserInfo("admin", ("system:masters",))
    authenticator = Authenticator({"static": admin})
    assert authenticator.authenticate("static") == admin
    assert authenticator.authenticate("") is None
    assert authenticator.authenticate("unknown") is None
    token = authenticator.mint_service_account_token("apps", "dm-job")
    assert token != authenticator.mint_service_account_token("apps", "dm-job")
    user = authenticator.authenticate(token)
    assert user == UserInfo(
        JOB_SA, ("system:serviceaccounts", "system:serviceaccounts:apps", "system:authenticated")
    )
    assert authenticator.revoke(token)
    assert authenticator.authenticate(token) is None
    with pytest.raises(ValueError, match="namespace and a name"):
        authenticator.mint_service_account_token("", "x")
