"""The three PATCH formats the API server accepts: JSON merge, JSON patch and strategic merge.

Every function returns a new document and leaves its inputs untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .status_errors import ApiError, bad_request, unsupported_media_type

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"

# The apiserver answers a JSON patch that decodes but cannot be applied with this generic 422
# and puts the json-patch library's own message in the causes.
_REJECTED = "the server rejected our request due to an error in our request"


def json_copy(value: Any) -> Any:
    """Deep copy of a JSON value; much faster than copy.deepcopy for dicts, lists and scalars."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: unlike Python's ==, true is not 1 (numbers compare by value)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(json_equal(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(json_equal, a, b))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


# --- RFC 7386 JSON merge patch ------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes a member, anything else replaces."""
    return _merge_into(json_copy(target), patch)


def _merge_into(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return json_copy(patch)
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_into(result.get(key), value)
    return result


# --- RFC 6902 JSON patch -------------------------------------------------------------------


class _PatchOpError(Exception):
    """An operation that decoded but does not apply to the document."""


def _unprocessable(message: str) -> ApiError:
    cause = {"reason": "UnexpectedServerResponse", "message": message, "field": ""}
    return ApiError(422, "Invalid", _REJECTED, {"causes": [cause]})


def _parse_pointer(pointer: Any) -> list[str]:
    if not isinstance(pointer, str):
        raise _PatchOpError(f"JSON pointer must be a string, got {pointer!r}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise _PatchOpError(f'JSON pointer must be empty or start with "/": "{pointer}"')
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


def _array_index(token: str, length: int, *, allow_end: bool, path: Any) -> int:
    if token == "-" and allow_end:
        return length
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise _PatchOpError(f'invalid array index "{token}" in path "{path}"')
    index = int(token)
    limit = length if allow_end else length - 1
    if index > limit:
        raise _PatchOpError(f'array index {index} out of bounds in path "{path}"')
    return index


def _resolve_parent(doc: Any, tokens: list[str], path: Any, op: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_array_index(token, len(node), allow_end=False, path=path)]
        else:
            raise _PatchOpError(f'{op} operation does not apply: doc is missing path: "{path}"')
    if not isinstance(node, dict | list):
        raise _PatchOpError(f'{op} operation does not apply: doc is missing path: "{path}"')
    return node


def _get(doc: Any, path: Any, op: str) -> Any:
    tokens = _parse_pointer(path)
    if not tokens:
        return doc
    parent = _resolve_parent(doc, tokens, path, op)
    last = tokens[-1]
    if isinstance(parent, list):
        return parent[_array_index(last, len(parent), allow_end=False, path=path)]
    if last not in parent:
        raise _PatchOpError(f'{op} operation does not apply: doc is missing path: "{path}"')
    return parent[last]


def _add(doc: Any, path: Any, value: Any) -> Any:
    tokens = _parse_pointer(path)
    if not tokens:
        return value
    parent = _resolve_parent(doc, tokens, path, "add")
    if isinstance(parent, list):
        parent.insert(_array_index(tokens[-1], len(parent), allow_end=True, path=path), value)
    else:
        parent[tokens[-1]] = value
    return doc


def _remove(doc: Any, path: Any, op: str = "remove") -> tuple[Any, Any]:
    """Removes the value at path; returns (document, removed value)."""
    tokens = _parse_pointer(path)
    if not tokens:
        raise _PatchOpError(f"{op} operation cannot remove the whole document")
    parent = _resolve_parent(doc, tokens, path, op)
    last = tokens[-1]
    if isinstance(parent, list):
        return doc, parent.pop(_array_index(last, len(parent), allow_end=False, path=path))
    if last not in parent:
        raise _PatchOpError(f'{op} operation does not apply: doc is missing path: "{path}"')
    return doc, parent.pop(last)


def _apply_operation(doc: Any, operation: dict[str, Any]) -> Any:
    op = operation.get("op")
    path = operation.get("path")
    if op in ("add", "replace", "test") and "value" not in operation:
        raise _PatchOpError(f'{op} operation on "{path}" has no "value"')
    value = operation.get("value")
    if op == "add":
        return _add(doc, path, json_copy(value))
    if op == "remove":
        return _remove(doc, path)[0]
    if op == "replace":
        doc, _ = _remove(doc, path, "replace") if _parse_pointer(path) else (doc, None)
        return _add(doc, path, json_copy(value))
    if op == "move":
        source = operation.get("from")
        if isinstance(source, str) and isinstance(path, str) and path.startswith(source + "/"):
            raise _PatchOpError(f'move operation cannot move "{source}" into its child "{path}"')
        doc, moved = _remove(doc, source, "move")
        return _add(doc, path, moved)
    if op == "copy":
        return _add(doc, path, json_copy(_get(doc, operation.get("from"), "copy")))
    if op == "test":
        return _test(doc, path, value)
    raise _PatchOpError(f"Unexpected kind: {op}")


def _test(doc: Any, path: Any, expected: Any) -> Any:
    try:
        actual = _get(doc, path, "test")
    except _PatchOpError:
        # Like the apiserver's json-patch library: testing for null passes on a missing member.
        if expected is None:
            return doc
        raise _PatchOpError(f"testing value {path} failed: test failed") from None
    if not json_equal(actual, expected):
        raise _PatchOpError(f"testing value {path} failed: test failed")
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902. A body that is not a list of operations is a 400; an operation that cannot be
    applied (a failed test, a missing path, an unknown op) is the apiserver's 422."""
    if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
        raise bad_request(
            "json: cannot unmarshal the patch: a JSON patch must be a list of operation objects"
        )
    doc = json_copy(target)
    for operation in operations:
        try:
            doc = _apply_operation(doc, operation)
        except _PatchOpError as failure:
            raise _unprocessable(str(failure)) from None
    return doc


# --- Strategic merge patch -----------------------------------------------------------------

_DIRECTIVE = "$patch"
_DELETE_PRIMITIVES = "$deleteFromPrimitiveList/"
_ELEMENT_ORDER = "$setElementOrder/"
_RETAIN_KEYS = "$retainKeys"

# patchMergeKey of the list fields (by field name) in the built-in kinds we serve.
_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "addresses": "type",
    "podIPs": "ip",
    "hostIPs": "ip",
    "secrets": "name",
}
# Lists of primitives with patchStrategy "merge": they merge as sets.
_MERGED_PRIMITIVE_LISTS = frozenset({"finalizers"})


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        # Container ports merge by containerPort, Service ports by port.
        if any(isinstance(i, dict) and "containerPort" in i for i in items):
            return "containerPort"
        return "port"
    return _MERGE_KEYS.get(field)


def strategic_merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Strategic merge patch for built-in kinds: lists merge by the Kubernetes patchMergeKey of
    their field, `$patch`, `$retainKeys`, `$deleteFromPrimitiveList/` and
    `$setElementOrder/` directives are honoured; lists without a merge key are replaced."""
    if not isinstance(patch, dict):
        raise bad_request("strategic merge patch must be a JSON object")
    result = _smp_map(json_copy(target), patch)
    if result is None:
        raise bad_request("strategic merge patch cannot delete the whole object")
    return result


def _smp_map(original: dict[str, Any] | None, patch: dict[str, Any]) -> dict[str, Any] | None:
    """Merges patch into original (already a private copy). None means "delete this map"."""
    directive = patch.get(_DIRECTIVE)
    if directive == "delete":
        return None
    body = {k: v for k, v in patch.items() if k != _DIRECTIVE}
    if directive == "replace":
        replaced: dict[str, Any] = _strip_directives(body)
        return replaced
    if directive not in (None, "merge"):
        raise bad_request(f"Unknown patch type: {directive!r} in map: {patch}")
    result = original if isinstance(original, dict) else {}

    retain = body.pop(_RETAIN_KEYS, None)
    if retain is not None:
        if not isinstance(retain, list) or not all(isinstance(k, str) for k in retain):
            raise bad_request("$retainKeys must be a list of field names")
        result = {k: v for k, v in result.items() if k in retain}

    for key, value in body.items():
        if key.startswith(_ELEMENT_ORDER):
            continue  # ordering is advisory; the merged order is kept
        if key.startswith(_DELETE_PRIMITIVES):
            field = key[len(_DELETE_PRIMITIVES) :]
            if not isinstance(value, list):
                raise bad_request(f"{key} must be a list of values to delete")
            current = result.get(field)
            if isinstance(current, list):
                result[field] = [v for v in current if not any(json_equal(v, d) for d in value)]
            continue
    for key, value in body.items():
        if key.startswith((_ELEMENT_ORDER, _DELETE_PRIMITIVES)):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = _smp_map(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _smp_list(key, result.get(key), value)
        else:
            result[key] = value
    return result


def _smp_list(field: str, original: Any, patch: list[Any]) -> list[Any]:
    if any(isinstance(i, dict) and i.get(_DIRECTIVE) == "replace" for i in patch):
        return [_strip_directives(i) for i in patch if not _is_directive_only(i)]
    current = original if isinstance(original, list) else []
    if field in _MERGED_PRIMITIVE_LISTS:
        merged = list(current)
        for item in patch:
            if not any(json_equal(item, existing) for existing in merged):
                merged.append(json_copy(item))
        return merged
    key = _merge_key(field, current + patch)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return [_strip_directives(i) for i in patch]
    merged = list(current)
    for item in patch:
        if key not in item:
            raise bad_request(f"map: {item} does not contain declared merge key: {key}")
        position = next(
            (
                n
                for n, existing in enumerate(merged)
                if isinstance(existing, dict) and json_equal(existing.get(key), item[key])
            ),
            None,
        )
        if item.get(_DIRECTIVE) == "delete":
            merged = [
                e for e in merged if not (isinstance(e, dict) and json_equal(e.get(key), item[key]))
            ]
        elif position is None:
            merged.append(_strip_directives(item))
        else:
            updated = _smp_map(merged[position], item)
            if updated is not None:
                merged[position] = updated
    return merged


def _is_directive_only(item: Any) -> bool:
    return isinstance(item, dict) and set(item) == {_DIRECTIVE}


def _strip_directives(value: Any) -> Any:
    """A value taken as-is from the patch, minus any directive keys and null members."""
    if isinstance(value, dict):
        return {
            k: _strip_directives(v)
            for k, v in value.items()
            if not k.startswith("$") and v is not None
        }
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


# --- dispatch ------------------------------------------------------------------------------


def apply_patch(
    content_type: str, target: dict[str, Any], body: Any, *, strategic_allowed: bool
) -> dict[str, Any]:
    """Applies a PATCH body by its Content-Type (parameters after ';' are ignored).

    Unknown types, and strategic merge patch where it is not allowed (custom resources), are a
    415 as on the real server; a patch whose result is not an object is a 400.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    appliers: dict[str, Callable[[dict[str, Any], Any], Any]] = {
        MERGE_PATCH: merge_patch,
        JSON_PATCH: json_patch,
    }
    if strategic_allowed:
        appliers[STRATEGIC_MERGE_PATCH] = strategic_merge_patch
    applier = appliers.get(media_type)
    if applier is None:
        raise unsupported_media_type(content_type)
    if media_type == MERGE_PATCH and not isinstance(body, dict):
        raise bad_request("a JSON merge patch of an object must itself be a JSON object")
    result = applier(target, body)
    if not isinstance(result, dict):
        raise bad_request("the patched document is not a JSON object")
    return result
