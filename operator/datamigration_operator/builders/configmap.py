"""The ConfigMap contract: we own one key, patch it alone, and say so in annotations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from datamigration_operator.api import reasons
from datamigration_operator.api.names import (
    ANNOTATION_CONFIGMAP_ORIGINAL,
    ANNOTATION_CONFIGMAP_OWNER,
    ANNOTATION_CONFIGMAP_PREVIOUS,
)
from datamigration_operator.api.phases import MODES, Mode


@dataclass(frozen=True)
class Refusal:
    reason: str
    message: str


def read_mode(config_map: Mapping[str, Any], key: str) -> tuple[str | None, str | None]:
    """(value of the key or None, owner annotation or None) of a ConfigMap manifest."""
    data = config_map.get("data") or {}
    annotations = (config_map.get("metadata") or {}).get("annotations") or {}
    value = data.get(key)
    owner = annotations.get(ANNOTATION_CONFIGMAP_OWNER)
    return (value if isinstance(value, str) else None, owner if isinstance(owner, str) else None)


def check_config_map(
    name: str, key: str, value: str | None, owner: str | None, me: str
) -> Refusal | None:
    """Why we must not touch this ConfigMap, or None. Another DataMigration's key is never ours;
    a value we did not write and do not understand means the app is not in a state we know."""
    if owner is not None and owner != me:
        return Refusal(
            reasons.CONFIGMAP_OWNED_BY_OTHER,
            f"ConfigMap {name} key {key} is owned by DataMigration {owner}; "
            "one ConfigMap can be driven by one DataMigration only",
        )
    if value is not None and value not in MODES and owner != me:
        return Refusal(
            reasons.CONFIGMAP_UNKNOWN_MODE,
            f"ConfigMap {name} key {key} holds {value!r}, not one of {', '.join(MODES)}; "
            "fix or remove the key",
        )
    return None


def mode_patch(
    key: str,
    mode: Mode,
    previous: str | None,
    me: str,
    *,
    claim: bool = False,
    read_share: tuple[str, str | None] | None = None,
) -> dict[str, Any]:
    """JSON merge patch that sets only `key` and our annotations. The previous-value annotation
    holds the value before this patch ("" when the key was absent); on the claim, the same
    value is also kept as the original, which deletion restores. `read_share` (key, value or
    None to remove it) sets the gradual switch's share in the same patch: mode and share change
    together."""
    before = previous if previous is not None else ""
    annotations = {ANNOTATION_CONFIGMAP_OWNER: me, ANNOTATION_CONFIGMAP_PREVIOUS: before}
    if claim:
        annotations[ANNOTATION_CONFIGMAP_ORIGINAL] = before
    data: dict[str, str | None] = {key: mode}
    if read_share is not None:
        data[read_share[0]] = read_share[1]
    return {"metadata": {"annotations": annotations}, "data": data}


def release_patch(
    key: str, *, restore: bool, value: str | None, read_share_key: str | None = None
) -> dict[str, Any]:
    """JSON merge patch that removes our annotations and, with `restore`, sets `key` back to
    `value` (None removes the key)."""
    patch: dict[str, Any] = {
        "metadata": {
            "annotations": {
                ANNOTATION_CONFIGMAP_OWNER: None,
                ANNOTATION_CONFIGMAP_PREVIOUS: None,
                ANNOTATION_CONFIGMAP_ORIGINAL: None,
            }
        }
    }
    data: dict[str, str | None] = {key: value} if restore else {}
    if read_share_key is not None:
        data[read_share_key] = None
    if data:
        patch["data"] = data
    return patch
