from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datamigration_sandbox.kube.patches import (
    apply_patch,
    json_equal,
    json_patch,
    merge_patch,
    strategic_merge_patch,
)
from datamigration_sandbox.kube.status_errors import ApiError

_keys = st.text(alphabet="ab~/", min_size=1, max_size=3)
_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=3)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=6,
)
_objects = st.dictionaries(_keys, _json, max_size=3)


def _merge_diff(source: Any, target: Any) -> Any:
    """The merge patch that turns source into target (targets without nulls)."""
    if not isinstance(source, dict) or not isinstance(target, dict):
        return target
    patch: dict[str, Any] = {key: None for key in source if key not in target}
    for key, value in target.items():
        if key not in source:
            patch[key] = value
        elif not json_equal(source[key], value):
            patch[key] = _merge_diff(source[key], value)
    return patch


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _pointer(key: str) -> str:
    return "/" + key.replace("~", "~0").replace("/", "~1")


# --- merge patch ---------------------------------------------------------------------------


def test_merge_patch_merges_objects_and_null_deletes() -> None:
    target = {"metadata": {"labels": {"a": "1", "b": "2"}}, "data": {"x": "1"}}
    patch = {"metadata": {"labels": {"a": None, "c": "3"}}, "data": ["replaced"]}
    assert merge_patch(target, patch) == {
        "metadata": {"labels": {"b": "2", "c": "3"}},
        "data": ["replaced"],
    }


def test_merge_patch_with_a_non_object_replaces_the_target() -> None:
    assert merge_patch({"a": 1}, ["x"]) == ["x"]
    assert merge_patch({"a": {"b": 1}}, {"a": "flat"}) == {"a": "flat"}


def test_merge_patch_does_not_mutate_its_inputs() -> None:
    target = {"a": {"b": [1, 2]}}
    patch = {"a": {"c": {"d": 1}}}
    before = copy.deepcopy((target, patch))
    result = merge_patch(target, patch)
    result["a"]["b"].append(3)
    result["a"]["c"]["d"] = 2
    assert (target, patch) == before


@settings(max_examples=60)
@given(_objects, _objects)
def test_merge_patch_of_the_diff_yields_the_second_document(source: Any, target: Any) -> None:
    target = _without_nulls(target)
    assert json_equal(merge_patch(source, _merge_diff(source, target)), target)


# --- JSON patch ----------------------------------------------------------------------------


def test_json_patch_applies_every_operation_in_order() -> None:
    doc = {"a": {"b": 1}, "list": [1, 2, 3], "x~y": {"p/q": "v"}}
    result = json_patch(
        doc,
        [
            {"op": "test", "path": "/x~0y/p~1q", "value": "v"},
            {"op": "add", "path": "/list/-", "value": 4},
            {"op": "add", "path": "/list/0", "value": 0},
            {"op": "remove", "path": "/list/1"},
            {"op": "replace", "path": "/a/b", "value": {"c": True}},
            {"op": "copy", "from": "/a", "path": "/copied"},
            {"op": "move", "from": "/x~0y", "path": "/moved"},
        ],
    )
    assert result == {
        "a": {"b": {"c": True}},
        "list": [0, 2, 3, 4],
        "copied": {"b": {"c": True}},
        "moved": {"p/q": "v"},
    }
    assert doc["list"] == [1, 2, 3]


def test_json_patch_add_at_the_root_replaces_the_document() -> None:
    assert json_patch({"a": 1}, [{"op": "add", "path": "", "value": {"b": 2}}]) == {"b": 2}


@pytest.mark.parametrize(
    ("operation", "fragment"),
    [
        ({"op": "test", "path": "/metadata/name", "value": "other"}, "testing value"),
        ({"op": "test", "path": "/n", "value": 1}, "testing value"),  # true is not 1
        ({"op": "remove", "path": "/metadata/missing"}, "missing path"),
        ({"op": "replace", "path": "/spec/x", "value": 1}, "missing path"),
        ({"op": "add", "path": "/list/5", "value": 1}, "out of bounds"),
        ({"op": "add", "path": "no-slash", "value": 1}, "JSON pointer"),
        ({"op": "frobnicate", "path": "/n"}, "Unexpected kind"),
        ({"op": "move", "from": "/metadata", "path": "/metadata/inner"}, "child"),
        ({"op": "add", "path": "/n"}, 'no "value"'),
    ],
)
def test_json_patch_that_does_not_apply_is_422_with_the_cause(
    operation: dict[str, Any], fragment: str
) -> None:
    doc = {"metadata": {"name": "a"}, "n": True, "list": [1]}
    with pytest.raises(ApiError) as caught:
        json_patch(doc, [operation])
    assert caught.value.code == 422
    assert caught.value.reason == "Invalid"
    assert fragment in caught.value.details["causes"][0]["message"]


def test_json_patch_test_of_null_passes_on_a_missing_member_like_the_apiserver() -> None:
    assert json_patch({"a": 1}, [{"op": "test", "path": "/b", "value": None}]) == {"a": 1}


@pytest.mark.parametrize("body", [{"op": "add"}, ["not an op"], "x"])
def test_json_patch_body_that_is_not_a_list_of_operations_is_400(body: Any) -> None:
    with pytest.raises(ApiError) as caught:
        json_patch({}, body)
    assert caught.value.code == 400


@settings(max_examples=60)
@given(_objects, _keys, _json)
def test_json_patch_add_then_remove_round_trips(doc: Any, key: str, value: Any) -> None:
    if key in doc:
        return
    added = json_patch(doc, [{"op": "add", "path": _pointer(key), "value": value}])
    assert json_equal(added[key], value)
    assert json_equal(json_patch(added, [{"op": "remove", "path": _pointer(key)}]), doc)


# --- strategic merge patch -----------------------------------------------------------------


def _deployment() -> dict[str, Any]:
    return {
        "metadata": {"name": "app", "finalizers": ["a"], "labels": {"x": "1"}},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "app:1",
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                            "ports": [{"containerPort": 80, "name": "http"}],
                            "args": ["--one"],
                            "volumeMounts": [{"mountPath": "/data", "name": "data"}],
                        },
                        {"name": "sidecar", "image": "side:1"},
                    ],
                    "tolerations": [{"key": "a"}],
                }
            }
        },
    }


def test_strategic_merge_merges_lists_by_their_kubernetes_merge_key() -> None:
    patch = {
        "metadata": {"finalizers": ["b", "a"]},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "app:2",
                            "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}],
                            "ports": [{"containerPort": 80, "protocol": "TCP"}],
                            "args": ["--two"],
                            "volumeMounts": [{"mountPath": "/data", "readOnly": True}],
                        }
                    ],
                    "tolerations": [{"key": "b"}],
                }
            }
        },
    }
    result = strategic_merge_patch(_deployment(), patch)
    app, sidecar = result["spec"]["template"]["spec"]["containers"]
    assert app["image"] == "app:2"
    assert app["env"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "20"},
        {"name": "C", "value": "3"},
    ]
    assert app["ports"] == [{"containerPort": 80, "name": "http", "protocol": "TCP"}]
    assert app["args"] == ["--two"]  # lists without a merge key are replaced
    assert app["volumeMounts"] == [{"mountPath": "/data", "name": "data", "readOnly": True}]
    assert sidecar == {"name": "sidecar", "image": "side:1"}
    assert result["spec"]["template"]["spec"]["tolerations"] == [{"key": "b"}]
    assert result["metadata"]["finalizers"] == ["a", "b"]


def test_strategic_merge_directives() -> None:
    patch = {
        "metadata": {
            "labels": {"$patch": "replace", "y": "2"},
            "$deleteFromPrimitiveList/finalizers": ["a"],
        },
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "sidecar", "$patch": "delete"},
                        {
                            "name": "app",
                            "env": [{"name": "A", "$patch": "delete"}],
                            "$setElementOrder/env": [{"name": "B"}],
                        },
                    ],
                    "$setElementOrder/containers": [{"name": "app"}],
                }
            }
        },
    }
    result = strategic_merge_patch(_deployment(), patch)
    assert result["metadata"]["labels"] == {"y": "2"}
    assert result["metadata"]["finalizers"] == []
    (app,) = result["spec"]["template"]["spec"]["containers"]
    assert app["env"] == [{"name": "B", "value": "2"}]
    assert not any(k.startswith("$") for k in app)


def test_strategic_merge_replace_list_and_delete_map_and_retain_keys() -> None:
    target = {
        "spec": {
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
            "volumes": [{"name": "a"}, {"name": "b"}],
            "extra": {"k": "v"},
        }
    }
    patch = {
        "spec": {
            "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
            "volumes": [{"$patch": "replace"}, {"name": "c"}],
            "extra": {"$patch": "delete"},
        }
    }
    assert strategic_merge_patch(target, patch) == {
        "spec": {"strategy": {"type": "Recreate"}, "volumes": [{"name": "c"}]}
    }


def test_strategic_merge_item_without_its_merge_key_is_a_400() -> None:
    with pytest.raises(ApiError) as caught:
        strategic_merge_patch(
            _deployment(), {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}
        )
    assert caught.value.code == 400
    assert "merge key: name" in caught.value.message


def test_strategic_merge_does_not_mutate_its_inputs() -> None:
    target = _deployment()
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "new", "env": [{"name": "Z"}]}]}}}
    }
    before = copy.deepcopy((target, patch))
    result = strategic_merge_patch(target, patch)
    result["spec"]["template"]["spec"]["containers"][-1]["env"].append({"name": "Y"})
    assert (target, patch) == before


# --- dispatch ------------------------------------------------------------------------------


def test_apply_patch_dispatches_on_the_content_type_ignoring_parameters() -> None:
    target = {"metadata": {"labels": {"a": "1"}}}
    assert apply_patch(
        "application/merge-patch+json; charset=utf-8",
        target,
        {"metadata": {"labels": {"b": "2"}}},
        strategic_allowed=False,
    ) == {"metadata": {"labels": {"a": "1", "b": "2"}}}
    assert apply_patch(
        "application/json-patch+json",
        target,
        [{"op": "remove", "path": "/metadata/labels/a"}],
        strategic_allowed=False,
    ) == {"metadata": {"labels": {}}}
    assert apply_patch(
        "application/strategic-merge-patch+json",
        {"metadata": {"finalizers": ["x"]}},
        {"metadata": {"finalizers": ["y"]}},
        strategic_allowed=True,
    ) == {"metadata": {"finalizers": ["x", "y"]}}


@pytest.mark.parametrize(
    ("content_type", "strategic_allowed"),
    [
        ("application/strategic-merge-patch+json", False),
        ("application/apply-patch+yaml", True),
        ("text/plain", True),
    ],
)
def test_apply_patch_unsupported_media_type_is_415(
    content_type: str, strategic_allowed: bool
) -> None:
    with pytest.raises(ApiError) as caught:
        apply_patch(content_type, {}, {}, strategic_allowed=strategic_allowed)
    assert caught.value.code == 415
    assert content_type in caught.value.message


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/merge-patch+json", ["x"]),
        ("application/json-patch+json", [{"op": "add", "path": "", "value": 3}]),
    ],
)
def test_apply_patch_whose_result_is_not_an_object_is_400(content_type: str, body: Any) -> None:
    with pytest.raises(ApiError) as caught:
        apply_patch(content_type, {"a": 1}, body, strategic_allowed=True)
    assert caught.value.code == 400
