"""The official kubernetes client against the API server: the behaviour our operator relies on."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from kubernetes import client, watch
from kubernetes.client import ApiException

from sandbox_kube.conftest import WIDGET_GROUP, KubeSandbox, start_sandbox

WIDGETS = {"group": WIDGET_GROUP, "version": "v1", "plural": "widgets"}


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _configmap(name: str, data: dict[str, str], labels: dict[str, str] | None = None) -> Any:
    meta = client.V1ObjectMeta(name=name, labels=labels)
    return client.V1ConfigMap(metadata=meta, data=data)


def _widget(name: str, phase: str = "a") -> dict[str, Any]:
    return {
        "apiVersion": f"{WIDGET_GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"phase": phase},
    }


@pytest.fixture
def core(kube: KubeSandbox) -> client.CoreV1Api:
    return client.CoreV1Api(kube.api_client())


@pytest.fixture
def custom(kube: KubeSandbox, widget_crd: dict[str, Any]) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kube.api_client())


def test_configmap_crud(core: client.CoreV1Api) -> None:
    name = _name("cm")
    created = core.create_namespaced_config_map("default", _configmap(name, {"k": "v"}))
    assert created.metadata.uid
    assert created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None

    read = core.read_namespaced_config_map(name, "default")
    read.data["k"] = "v2"
    replaced = core.replace_namespaced_config_map(name, "default", read)
    assert replaced.data == {"k": "v2"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)

    names = [cm.metadata.name for cm in core.list_namespaced_config_map("default").items]
    assert name in names

    core.delete_namespaced_config_map(name, "default")
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map(name, "default")
    assert err.value.status == 404


def test_create_existing_name_is_409_already_exists(core: client.CoreV1Api) -> None:
    name = _name("dup")
    core.create_namespaced_config_map("default", _configmap(name, {}))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("default", _configmap(name, {}))
    assert err.value.status == 409
    assert '"reason":"AlreadyExists"' in err.value.body.replace(" ", "")


def test_stale_update_is_409_conflict(core: client.CoreV1Api) -> None:
    name = _name("stale")
    core.create_namespaced_config_map("default", _configmap(name, {"k": "1"}))
    first = core.read_namespaced_config_map(name, "default")
    second = core.read_namespaced_config_map(name, "default")
    first.data["k"] = "2"
    core.replace_namespaced_config_map(name, "default", first)
    second.data["k"] = "3"
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map(name, "default", second)
    assert err.value.status == 409
    assert "the object has been modified" in err.value.body


def test_merge_json_and_strategic_patches(core: client.CoreV1Api) -> None:
    name = _name("patch")
    core.create_namespaced_config_map("default", _configmap(name, {"a": "1", "b": "2"}))

    merged = core.patch_namespaced_config_map(
        name,
        "default",
        {"data": {"a": "10", "b": None}},
        _content_type="application/merge-patch+json",
    )
    assert merged.data == {"a": "10"}

    ops = [{"op": "add", "path": "/data/c", "value": "3"}, {"op": "remove", "path": "/data/a"}]
    patched = core.patch_namespaced_config_map(name, "default", ops)
    assert patched.data == {"c": "3"}

    # A dict body goes out as a strategic merge patch (the client's default for built-ins).
    strategic = core.patch_namespaced_config_map(name, "default", {"data": {"d": "4"}})
    assert strategic.data == {"c": "3", "d": "4"}


def test_custom_resource_crud_and_generation(custom: client.CustomObjectsApi) -> None:
    name = _name("w")
    created = custom.create_namespaced_custom_object(
        **WIDGETS, namespace="default", body=_widget(name)
    )
    assert created["metadata"]["generation"] == 1
    assert created["spec"]["size"] == 1  # schema default

    # Metadata-only changes leave generation alone; spec changes bump it.
    labelled = custom.patch_namespaced_custom_object(
        **WIDGETS, namespace="default", name=name, body={"metadata": {"labels": {"x": "y"}}}
    )
    assert labelled["metadata"]["generation"] == 1
    resized = custom.patch_namespaced_custom_object(
        **WIDGETS, namespace="default", name=name, body={"spec": {"size": 5}}
    )
    assert resized["metadata"]["generation"] == 2

    custom.delete_namespaced_custom_object(**WIDGETS, namespace="default", name=name)
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(**WIDGETS, namespace="default", name=name)
    assert err.value.status == 404


def test_strategic_merge_patch_on_custom_resource_is_415(custom: client.CustomObjectsApi) -> None:
    name = _name("w")
    custom.create_namespaced_custom_object(**WIDGETS, namespace="default", body=_widget(name))
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(
            **WIDGETS,
            namespace="default",
            name=name,
            body={"spec": {"size": 2}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert err.value.status == 415


def test_status_subresource_in_both_directions(custom: client.CustomObjectsApi) -> None:
    name = _name("w")
    custom.create_namespaced_custom_object(**WIDGETS, namespace="default", body=_widget(name))

    # The main endpoint ignores status ...
    ignored = custom.patch_namespaced_custom_object(
        **WIDGETS, namespace="default", name=name, body={"status": {"state": "Running"}}
    )
    assert "status" not in ignored or "state" not in ignored["status"]

    # ... the status endpoint changes only status, without a generation bump.
    status = custom.patch_namespaced_custom_object_status(
        **WIDGETS,
        namespace="default",
        name=name,
        body={"spec": {"size": 9}, "status": {"state": "Running"}},
    )
    assert status["status"] == {"state": "Running"}
    assert status["spec"]["size"] == 1
    assert status["metadata"]["generation"] == 1


def test_label_and_field_selectors(core: client.CoreV1Api) -> None:
    tag = uuid.uuid4().hex[:8]
    for i, tier in enumerate(("web", "web", "db")):
        cm = _configmap(f"sel-{tag}-{i}", {}, labels={"run": tag, "tier": tier})
        core.create_namespaced_config_map("default", cm)

    web = core.list_namespaced_config_map("default", label_selector=f"run={tag},tier=web")
    assert sorted(cm.metadata.name for cm in web.items) == [f"sel-{tag}-0", f"sel-{tag}-1"]
    not_web = core.list_namespaced_config_map("default", label_selector=f"run={tag},tier!=web")
    assert [cm.metadata.name for cm in not_web.items] == [f"sel-{tag}-2"]
    by_name = core.list_namespaced_config_map(
        "default", field_selector=f"metadata.name=sel-{tag}-1"
    )
    assert [cm.metadata.name for cm in by_name.items] == [f"sel-{tag}-1"]

    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map("default", label_selector="tier in (web")
    assert err.value.status == 400


def test_list_pages_with_limit_and_continue(core: client.CoreV1Api) -> None:
    tag = uuid.uuid4().hex[:8]
    for i in range(5):
        core.create_namespaced_config_map("default", _configmap(f"page-{tag}-{i}", {}, {"p": tag}))
    seen: list[str] = []
    token = None
    while True:
        page = core.list_namespaced_config_map(
            "default", label_selector=f"p={tag}", limit=2, _continue=token
        )
        seen.extend(cm.metadata.name for cm in page.items)
        token = page.metadata._continue
        if not token:
            break
        assert len(page.items) == 2
    assert seen == [f"page-{tag}-{i}" for i in range(5)]


def test_watch_resumes_from_a_resource_version(core: client.CoreV1Api) -> None:
    tag = uuid.uuid4().hex[:8]
    listing = core.list_namespaced_config_map("default", label_selector=f"w={tag}")
    start = listing.metadata.resource_version
    core.create_namespaced_config_map("default", _configmap(f"w-{tag}", {"n": "1"}, {"w": tag}))
    core.patch_namespaced_config_map(f"w-{tag}", "default", {"data": {"n": "2"}})
    core.delete_namespaced_config_map(f"w-{tag}", "default")

    events = watch.Watch().stream(
        core.list_namespaced_config_map,
        "default",
        label_selector=f"w={tag}",
        resource_version=start,
        timeout_seconds=1,
    )
    seen = [(e["type"], e["object"].data.get("n") if e["object"].data else None) for e in events]
    assert seen == [("ADDED", "1"), ("MODIFIED", "2"), ("DELETED", "2")]


def test_watch_streams_live_events_and_bookmarks(kube: KubeSandbox, core: client.CoreV1Api) -> None:
    tag = uuid.uuid4().hex[:8]
    kube.server.endpoints.bookmark_interval = 0.2
    received: list[str] = []
    stream = watch.Watch()

    def consume() -> None:
        for event in stream.stream(
            core.list_namespaced_config_map,
            "default",
            label_selector=f"live={tag}",
            allow_watch_bookmarks=True,
            timeout_seconds=2,
        ):
            received.append(event["type"])
            if event["type"] == "ADDED":
                stream.stop()

    consumer = threading.Thread(target=consume)
    consumer.start()
    time.sleep(0.5)
    core.create_namespaced_config_map("default", _configmap(f"live-{tag}", {}, {"live": tag}))
    consumer.join(5)
    assert "BOOKMARK" in received
    assert received[-1] == "ADDED"


def test_watch_from_a_too_old_resource_version_is_410(tmp_path: Any) -> None:
    sandbox, stop = start_sandbox(tmp_path, watch_history=3)
    try:
        api = client.CoreV1Api(sandbox.api_client())
        old = api.list_namespaced_config_map("default").metadata.resource_version
        for i in range(5):
            api.create_namespaced_config_map("default", _configmap(f"churn-{i}", {}))
        # timeout_seconds disables the client's single automatic retry after 410.
        with pytest.raises(ApiException) as err:
            for _ in watch.Watch().stream(
                api.list_namespaced_config_map,
                "default",
                resource_version=old,
                timeout_seconds=1,
            ):
                pass
        assert err.value.status == 410
        assert "too old resource version" in str(err.value.reason)
    finally:
        stop()


def test_deleting_the_owner_garbage_collects_dependents(core: client.CoreV1Api) -> None:
    owner = core.create_namespaced_config_map("default", _configmap(_name("owner"), {}))
    ref = client.V1OwnerReference(
        api_version="v1", kind="ConfigMap", name=owner.metadata.name, uid=owner.metadata.uid
    )
    dependent = _configmap(_name("dep"), {})
    dependent.metadata.owner_references = [ref]
    core.create_namespaced_config_map("default", dependent)

    core.delete_namespaced_config_map(
        owner.metadata.name, "default", propagation_policy="Background"
    )
    deadline = time.monotonic() + 3
    names: set[str] = {dependent.metadata.name}
    while time.monotonic() < deadline and dependent.metadata.name in names:
        names = {cm.metadata.name for cm in core.list_namespaced_config_map("default").items}
        time.sleep(0.05)
    assert dependent.metadata.name not in names, "the dependent outlived its owner"


@pytest.mark.parametrize(
    ("method", "path", "body", "code", "reason"),
    [
        ("GET", "/api/v1/nothings", None, 404, "NotFound"),
        ("GET", "/no/such/path", None, 404, "NotFound"),
        ("GET", "/api/v1/namespaces/default/configmaps/absent", None, 404, "NotFound"),
        ("POST", "/api/v1/namespaces/default/configmaps", b"{not json", 400, "BadRequest"),
        ("PUT", "/api/v1/namespaces/default/configmaps", b"{}", 405, "MethodNotAllowed"),
        ("POST", "/version", b"{}", 405, "MethodNotAllowed"),
    ],
)
def test_errors_are_status_objects(
    kube: KubeSandbox, method: str, path: str, body: bytes | None, code: int, reason: str
) -> None:
    status, document, _ = kube.request(method, path, body)
    assert status == code
    assert document["kind"] == "Status"
    assert document["status"] == "Failure"
    assert (document["code"], document["reason"]) == (code, reason)


def test_unsupported_patch_type_is_415(kube: KubeSandbox, core: client.CoreV1Api) -> None:
    name = _name("cm")
    core.create_namespaced_config_map("default", _configmap(name, {}))
    status, document, _ = kube.request(
        "PATCH",
        f"/api/v1/namespaces/default/configmaps/{name}",
        b"{}",
        content_type="text/plain",
    )
    assert (status, document["reason"]) == (415, "UnsupportedMediaType")


def test_missing_or_unknown_token_is_401(kube: KubeSandbox) -> None:
    assert kube.request("GET", "/api/v1/namespaces", token="")[0] == 401
    status, document, _ = kube.request("GET", "/api/v1/namespaces", token="forged")
    assert (status, document["reason"]) == (401, "Unauthorized")


def test_service_account_may_patch_exactly_widget_status(
    kube: KubeSandbox, core: client.CoreV1Api, custom: client.CustomObjectsApi
) -> None:
    namespace = _name("rbac")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="job"))
    )
    rbac = client.RbacAuthorizationV1Api(kube.api_client())
    rule = client.V1PolicyRule(
        api_groups=[WIDGET_GROUP], resources=["widgets/status"], verbs=["patch"]
    )
    rbac.create_namespaced_role(
        namespace, client.V1Role(metadata=client.V1ObjectMeta(name="status"), rules=[rule])
    )
    binding = client.V1RoleBinding(
        metadata=client.V1ObjectMeta(name="status"),
        role_ref=client.V1RoleRef(
            api_group="rbac.authorization.k8s.io", kind="Role", name="status"
        ),
        subjects=[client.RbacV1Subject(kind="ServiceAccount", name="job", namespace=namespace)],
    )
    rbac.create_namespaced_role_binding(namespace, binding)
    custom.create_namespaced_custom_object(**WIDGETS, namespace=namespace, body=_widget("w"))

    token_request = core.create_namespaced_service_account_token(
        "job",
        namespace,
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
    )
    assert token_request.status.expiration_timestamp is not None
    as_job = client.CustomObjectsApi(kube.api_client(token_request.status.token))

    patched = as_job.patch_namespaced_custom_object_status(
        **WIDGETS, namespace=namespace, name="w", body={"status": {"rows": 5}}
    )
    assert patched["status"] == {"rows": 5}
    denied = [
        lambda: as_job.get_namespaced_custom_object(**WIDGETS, namespace=namespace, name="w"),
        lambda: as_job.patch_namespaced_custom_object(
            **WIDGETS, namespace=namespace, name="w", body={"spec": {"size": 2}}
        ),
        lambda: as_job.patch_namespaced_custom_object_status(
            **WIDGETS, namespace="default", name="w", body={"status": {}}
        ),
    ]
    for call in denied:
        with pytest.raises(ApiException) as err:
            call()
        assert err.value.status == 403
        assert "system:serviceaccount:" + namespace + ":job" in err.value.body
