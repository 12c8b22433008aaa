from __future__ import annotations

from typing import Any

import pytest

from datamigration_sandbox.kube.selectors import (
    label_selector_from_spec,
    parse_field_selector,
    parse_label_selector,
)
from datamigration_sandbox.kube.status_errors import ApiError

_LABELS = {"app": "web", "tier": "front", "release": "3", "app.kubernetes.io/name": "x"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app!=web", False),
        ("app!=db", True),
        ("missing!=x", True),
        ("app in (web, db)", True),
        ("app in (db)", False),
        ("app notin (db)", True),
        ("missing notin (db)", True),
        ("app", True),
        ("!app", False),
        ("!missing", True),
        ("app=web,tier=front", True),
        ("app=web,tier=back", False),
        ("  app = web ,  tier  in(front)  ", True),
        ("app.kubernetes.io/name=x", True),
        ("release>2", True),
        ("release<3", False),
        ("app>2", False),
        ("missing=", False),
        ("app in (web,)", True),
    ],
)
def test_label_selector_matches_like_kubernetes(text: str, expected: bool) -> None:
    assert parse_label_selector(text).matches(_LABELS) is expected


def test_empty_value_selects_objects_with_an_empty_label() -> None:
    assert parse_label_selector("flag=").matches({"flag": ""})


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("app=web,", "identifier after ','"),
        ("app in web", "expected: '('"),
        ("app in (web", "expected: ')'"),
        ("=web", "expected: !, identifier"),
        ("app=(x)", "unable to parse requirement"),
        ("bad key=x", "expected: in, notin"),
        ("-bad=x", "Invalid value"),
        ("app=-bad", "unable to parse requirement: values[0]: Invalid value"),
        ("app=web extra", "expected: ',' or 'end of string'"),
        ("release>x", "must be an integer"),
    ],
)
def test_bad_label_selector_is_400_with_the_servers_wording(text: str, fragment: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_label_selector(text)
    assert caught.value.code == 400
    assert fragment in caught.value.message


def test_label_selector_from_spec() -> None:
    selector = label_selector_from_spec(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                {"key": "release", "operator": "NotIn", "values": ["1"]},
                {"key": "app.kubernetes.io/name", "operator": "Exists"},
                {"key": "canary", "operator": "DoesNotExist"},
            ],
        }
    )
    assert selector.matches(_LABELS)
    assert not selector.matches({**_LABELS, "canary": "yes"})
    assert not selector.matches({**_LABELS, "tier": "back"})
    assert label_selector_from_spec({}).matches({})


@pytest.mark.parametrize(
    "spec",
    [
        {"matchExpressions": [{"key": "a", "operator": "Sometimes", "values": ["x"]}]},
        {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
        {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
        {"matchLabels": {"a": "not valid!"}},
    ],
)
def test_bad_selector_spec_is_400(spec: dict[str, Any]) -> None:
    with pytest.raises(ApiError) as caught:
        label_selector_from_spec(spec)
    assert caught.value.code == 400


_EVENT = {
    "metadata": {"name": "ev1", "namespace": "default"},
    "involvedObject": {"kind": "DataMigration", "name": "dm", "namespace": "default", "uid": "u1"},
    "type": "Warning",
    "reason": "Blocked",
    "spec": {"unschedulable": True},
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("metadata.name=ev1", True),
        ("metadata.name==ev1", True),
        ("metadata.name!=ev1", False),
        ("involvedObject.kind=DataMigration,involvedObject.name=dm", True),
        ("involvedObject.kind=DataMigration,involvedObject.name=other", False),
        ("involvedObject.uid=u1,type=Warning,reason=Blocked", True),
        ("spec.nodeName=", True),  # a missing field compares as ""
        ("spec.nodeName!=", False),
        ("spec.unschedulable=true", True),
    ],
)
def test_field_selector_matches_dotted_paths(text: str, expected: bool) -> None:
    assert parse_field_selector(text).matches(_EVENT) is expected


def test_field_selector_escapes() -> None:
    selector = parse_field_selector(r"metadata.name=a\,b\=c\\d")
    assert selector.matches({"metadata": {"name": "a,b=c\\d"}})


@pytest.mark.parametrize("text", ["metadata.name", "=x", r"metadata.name=a\x", "a=b=c"])
def test_bad_field_selector_is_400(text: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_field_selector(text)
    assert caught.value.code == 400
