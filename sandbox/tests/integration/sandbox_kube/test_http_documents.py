"""Discovery, OpenAPI, Table and fieldValidation answers, checked at the HTTP level."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

from kubernetes import client

from sandbox_kube.conftest import WIDGET_CRD, WIDGET_GROUP, KubeSandbox, start_sandbox

TABLE_V1 = "application/json;as=Table;v=v1;g=meta.k8s.io"
TABLE_V1BETA1 = "application/json;as=Table;v=v1beta1;g=meta.k8s.io"


def _get(kube: KubeSandbox, path: str, accept: str = "application/json") -> Any:
    status, document, _ = kube.request("GET", path, accept=accept)
    assert status == 200, document
    return document


def test_discovery_serves_a_new_crd_with_its_status_subresource(
    kube: KubeSandbox, widget_crd: dict[str, Any]
) -> None:
    groups = {g["name"]: g for g in _get(kube, "/apis")["groups"]}
    assert groups[WIDGET_GROUP]["preferredVersion"]["groupVersion"] == f"{WIDGET_GROUP}/v1"

    resources = {r["name"]: r for r in _get(kube, f"/apis/{WIDGET_GROUP}/v1")["resources"]}
    widgets = resources["widgets"]
    assert widgets["kind"] == "Widget"
    assert widgets["namespaced"] is True
    assert widgets["shortNames"] == ["wg"]
    assert {"list", "watch", "patch"} <= set(widgets["verbs"])
    assert sorted(resources["widgets/status"]["verbs"]) == ["get", "patch", "update"]

    core = {r["name"] for r in _get(kube, "/api/v1")["resources"]}
    assert {"configmaps", "events", "pods/log", "serviceaccounts/token"} <= core
    assert _get(kube, "/api")["versions"] == ["v1"]
    assert _get(kube, "/version")["gitVersion"].startswith("v1.32")


def test_openapi_v3_advertises_field_validation_for_every_kind(
    kube: KubeSandbox, widget_crd: dict[str, Any]
) -> None:
    index = _get(kube, "/openapi/v3")["paths"]
    assert {"api/v1", "apis/batch/v1", f"apis/{WIDGET_GROUP}/v1"} <= set(index)
    document = _get(kube, index[f"apis/{WIDGET_GROUP}/v1"]["serverRelativeURL"])
    patch = document["paths"][f"/apis/{WIDGET_GROUP}/v1/namespaces/{{namespace}}/widgets/{{name}}"]
    operation = patch["patch"]
    assert operation["x-kubernetes-group-version-kind"]["kind"] == "Widget"
    assert "fieldValidation" in [p["name"] for p in operation["parameters"]]
    schema = document["components"]["schemas"]["ai.gremlins.tests.v1.Widget"]
    assert schema["properties"]["spec"]["properties"]["size"]["default"] == 1


def test_list_as_table_with_builtin_columns(kube: KubeSandbox) -> None:
    batch = client.BatchV1Api(kube.api_client())
    name = f"job-{uuid.uuid4().hex[:6]}"
    container = client.V1Container(name="main", image="busybox")
    template = client.V1PodTemplateSpec(
        spec=client.V1PodSpec(containers=[container], restart_policy="Never")
    )
    job = client.V1Job(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1JobSpec(template=template, completions=2),
    )
    batch.create_namespaced_job("default", job)

    table = _get(kube, "/apis/batch/v1/namespaces/default/jobs", accept=TABLE_V1BETA1)
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1beta1")
    assert table["metadata"]["resourceVersion"]
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names == ["Name", "Status", "Completions", "Duration", "Age"]
    row = next(r for r in table["rows"] if r["cells"][0] == name)
    assert row["cells"][1:4] == ["Running", "0/2", ""]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["name"] == name


def test_get_as_table_with_crd_columns_and_full_object(
    kube: KubeSandbox, widget_crd: dict[str, Any]
) -> None:
    custom = client.CustomObjectsApi(kube.api_client())
    name = f"t-{uuid.uuid4().hex[:6]}"
    body = {"apiVersion": f"{WIDGET_GROUP}/v1", "kind": "Widget", "metadata": {"name": name}}
    custom.create_namespaced_custom_object(
        WIDGET_GROUP, "v1", "default", "widgets", {**body, "spec": {"phase": "a", "size": 3}}
    )
    path = f"/apis/{WIDGET_GROUP}/v1/namespaces/default/widgets/{name}?includeObject=Object"
    table = _get(kube, path, accept=f"{TABLE_V1},application/json")
    columns = [(c["name"], c["type"]) for c in table["columnDefinitions"]]
    assert columns == [
        ("Name", "string"),
        ("Phase", "string"),
        ("Ready", "string"),
        ("Size", "integer"),
        ("Age", "date"),
    ]
    (row,) = table["rows"]
    assert row["cells"][:4] == [name, "a", None, 3]
    assert row["cells"][4].endswith("s")
    assert row["object"]["spec"] == {"phase": "a", "size": 3}


def test_field_validation_warns_or_rejects_unknown_fields(
    kube: KubeSandbox, widget_crd: dict[str, Any]
) -> None:
    collection = f"/apis/{WIDGET_GROUP}/v1/namespaces/default/widgets"
    body = {
        "apiVersion": f"{WIDGET_GROUP}/v1",
        "kind": "Widget",
        "metadata": {"name": f"f-{uuid.uuid4().hex[:6]}"},
        "spec": {"phase": "a", "colour": "red"},
    }
    encoded = json.dumps(body).encode()

    status, document, _ = kube.request("POST", f"{collection}?fieldValidation=Strict", encoded)
    assert (status, document["reason"]) == (400, "BadRequest")
    assert 'strict decoding error: unknown field "spec.colour"' in document["message"]

    status, document, headers = kube.request("POST", f"{collection}?fieldValidation=Warn", encoded)
    assert status == 201
    assert "colour" not in document["spec"]
    assert headers["Warning"] == '299 - "unknown field \\"spec.colour\\""'


def test_watch_from_a_too_old_version_answers_200_with_an_error_event(tmp_path: Path) -> None:
    sandbox, stop = start_sandbox(tmp_path, watch_history=2)
    try:
        core = client.CoreV1Api(sandbox.api_client())
        for i in range(4):
            core.create_namespaced_config_map(
                "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"c{i}"))
            )
        path = "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1"
        # As kube-apiserver's watch cache does: the request is accepted, the stream says 410.
        status, event, headers = sandbox.request("GET", path)
    finally:
        stop()
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert event["type"] == "ERROR"
    assert event["object"]["kind"] == "Status"
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")
    assert event["object"]["message"].startswith("too old resource version: 1 (")


def test_watch_as_table_sends_column_definitions_once(
    kube: KubeSandbox, widget_crd: dict[str, Any]
) -> None:
    custom = client.CustomObjectsApi(kube.api_client())
    collection = f"/apis/{WIDGET_GROUP}/v1/namespaces/default/widgets"
    since = _get(kube, collection)["metadata"]["resourceVersion"]
    name = f"tw-{uuid.uuid4().hex[:6]}"
    body = {"apiVersion": f"{WIDGET_GROUP}/v1", "kind": "Widget", "metadata": {"name": name}}
    custom.create_namespaced_custom_object(WIDGET_GROUP, "v1", "default", "widgets", body)
    custom.patch_namespaced_custom_object(
        WIDGET_GROUP, "v1", "default", "widgets", name, {"spec": {"size": 4}}
    )

    path = f"{collection}?watch=1&resourceVersion={since}&timeoutSeconds=1"
    status, events, _ = kube.request("GET", path, accept=TABLE_V1)
    assert status == 200
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED"]
    first, second = (e["object"] for e in events)
    assert first["kind"] == second["kind"] == "Table"
    assert [c["name"] for c in first["columnDefinitions"]][:2] == ["Name", "Phase"]
    assert second["columnDefinitions"] == []
    assert second["rows"][0]["cells"][3] == 4


def test_crd_without_usable_printer_columns_prints_name_and_age(kube: KubeSandbox) -> None:
    crd = copy.deepcopy(WIDGET_CRD)
    crd["metadata"]["name"] = f"gadgets.{WIDGET_GROUP}"
    crd["spec"]["names"] = {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"}
    crd["spec"]["versions"][0]["additionalPrinterColumns"] = [
        {"name": "Odd", "type": "string", "jsonPath": ".spec..deep{range}"}
    ]
    client.ApiextensionsV1Api(kube.api_client()).create_custom_resource_definition(crd)
    body = {"apiVersion": f"{WIDGET_GROUP}/v1", "kind": "Gadget", "metadata": {"name": "g"}}
    client.CustomObjectsApi(kube.api_client()).create_namespaced_custom_object(
        WIDGET_GROUP, "v1", "default", "gadgets", body
    )
    path = f"/apis/{WIDGET_GROUP}/v1/namespaces/default/gadgets"
    table = _get(kube, path, accept=TABLE_V1)
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert table["rows"][0]["cells"][0] == "g"


def test_impersonation_is_refused_not_ignored(kube: KubeSandbox) -> None:
    as_account = {"Impersonate-User": "system:serviceaccount:default:nobody"}
    status, body, _ = kube.request("GET", "/api/v1/namespaces", headers=as_account)
    assert status == 400
    assert "impersonation" in body["message"]


def test_self_subject_access_review_answers_for_the_caller(kube: KubeSandbox) -> None:
    token = kube.authenticator.mint_service_account_token("default", "nobody")
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "list", "resource": "pods"}},
    }
    path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    status, body, _ = kube.request("POST", path, json.dumps(review).encode(), token=token)
    assert status == 201
    assert body["status"]["allowed"] is False
    status, body, _ = kube.request("POST", path, json.dumps(review).encode())  # the admin
    assert body["status"]["allowed"] is True
