"""CustomResourceDefinitions: validation, establishment, serving, schema enforcement, cleanup.

What apiextensions-apiserver does, reduced to what clients observe:
- a CRD is validated (names, group, scope, versions with exactly one storage version) -> 422;
- it is Established at once: every served version becomes a ResourceType of the store and
  status gets NamesAccepted/Established conditions, acceptedNames and storedVersions;
- custom objects are defaulted, pruned and validated (CEL included) against the version's
  openAPIV3Schema on every write, status writes included -> 422;
- deleting a CRD deletes its objects first (finalizer customresourcecleanup.apiextensions.k8s.io,
  condition Terminating); objects with finalizers of their own keep the CRD terminating.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from datamigration_sandbox.kube import status_errors
from datamigration_sandbox.kube.crd_schema import SchemaValidator
from datamigration_sandbox.kube.object_meta import now_timestamp
from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.status_errors import ApiError, Cause

if TYPE_CHECKING:
    from datamigration_sandbox.kube.store import Store

CRD_KEY = ("apiextensions.k8s.io", "customresourcedefinitions")
CRD_KIND = "CustomResourceDefinition"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_KIND = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")


class CrdController:
    def __init__(self, store: Store) -> None:
        self._store = store
        # (group, version, plural) -> (the schema it was built from, its validator)
        self._validators: dict[tuple[str, str, str], tuple[dict[str, Any], SchemaValidator]] = {}
        store.add_admission(self._admit)
        store.subscribe(self._on_event)

    # --- admission --------------------------------------------------------------------------

    def _admit(
        self, operation: str, rt: ResourceType, new: dict[str, Any], old: dict[str, Any] | None
    ) -> dict[str, Any]:
        if rt.key == CRD_KEY:
            return self._admit_crd(operation, new, old)
        if rt.from_crd is not None and rt.schema is not None:
            return self._admit_custom_object(rt, new, old)
        return new

    def _admit_crd(
        self, operation: str, new: dict[str, Any], old: dict[str, Any] | None
    ) -> dict[str, Any]:
        name = new["metadata"]["name"]
        causes = crd_spec_causes(name, new.get("spec")) or _rule_compile_causes(new["spec"])
        if causes:
            raise status_errors.invalid(CRD_KIND, CRD_KEY[0], name, causes)
        spec = new["spec"]
        spec.setdefault("conversion", {"strategy": "None"})
        if old is not None:
            causes = _immutable_causes(old.get("spec") or {}, spec)
            if causes:
                raise status_errors.invalid(CRD_KIND, CRD_KEY[0], name, causes)
        if operation == "CREATE":
            finalizers = new["metadata"].setdefault("finalizers", [])
            if CLEANUP_FINALIZER not in finalizers:
                finalizers.append(CLEANUP_FINALIZER)
        new["status"] = _crd_status(new, old)
        return new

    def _admit_custom_object(
        self, rt: ResourceType, new: dict[str, Any], old: dict[str, Any] | None
    ) -> dict[str, Any]:
        validator = self._validator(rt)
        new = validator.apply_defaults(new)
        causes = validator.validate(new, old)
        if causes:
            raise status_errors.invalid(rt.kind, rt.group, new["metadata"].get("name", ""), causes)
        return new

    def _validator(self, rt: ResourceType) -> SchemaValidator:
        assert rt.schema is not None
        key = (rt.group, rt.version, rt.plural)
        cached = self._validators.get(key)
        if cached is not None and cached[0] is rt.schema:
            return cached[1]
        validator = SchemaValidator(rt.schema)
        self._validators[key] = (rt.schema, validator)
        return validator

    # --- serving and cleanup ----------------------------------------------------------------

    def _on_event(
        self,
        event_type: str,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
    ) -> None:
        if rt.key == CRD_KEY:
            if event_type == "DELETED":
                self._stop_serving(obj)
                return
            self._serve(obj)
            if obj["metadata"].get("deletionTimestamp"):
                self._delete_instances(rt, obj)
        elif rt.from_crd is not None and event_type == "DELETED":
            crd_rt = self._store.lookup("apiextensions.k8s.io", "v1", "customresourcedefinitions")
            try:
                crd = self._store.get(crd_rt, None, rt.from_crd)
            except ApiError:
                return
            if crd["metadata"].get("deletionTimestamp"):
                self._finish_cleanup(crd_rt, crd)

    def _serve(self, crd: dict[str, Any]) -> None:
        spec = crd["spec"]
        self._store.unregister_type(spec["group"], spec["names"]["plural"])
        # The storage version first: the store reports cross-type lookups with the first type.
        for version in sorted(spec["versions"], key=lambda v: not v.get("storage")):
            if version.get("served"):
                self._store.register_type(resource_type_for(crd, version))

    def _stop_serving(self, crd: dict[str, Any]) -> None:
        spec = crd["spec"]
        group, plural = spec["group"], spec["names"]["plural"]
        for rt in self._store.types():
            if rt.key == (group, plural):
                self._store.close_watches(rt)
                break
        self._store.unregister_type(group, plural)
        for key in [k for k in self._validators if (k[0], k[2]) == (group, plural)]:
            del self._validators[key]

    def _delete_instances(self, crd_rt: ResourceType, crd: dict[str, Any]) -> None:
        conditions = (crd.get("status") or {}).get("conditions") or []
        if not any(c.get("type") == "Terminating" for c in conditions):
            # A status write re-runs admission, which adds the Terminating condition.
            current = self._store.get(crd_rt, None, crd["metadata"]["name"])
            self._store.update(crd_rt, None, crd["metadata"]["name"], current, subresource="status")
            return
        rt = self._storage_type(crd)
        if rt is not None:
            items, _ = self._store.list(rt, None)
            for item in items:
                meta = item["metadata"]
                if not meta.get("deletionTimestamp"):
                    try:
                        self._store.delete(rt, meta.get("namespace"), meta["name"])
                    except ApiError as exc:
                        if exc.code != 404:
                            raise
        self._finish_cleanup(crd_rt, crd)

    def _finish_cleanup(self, crd_rt: ResourceType, crd: dict[str, Any]) -> None:
        rt = self._storage_type(crd)
        if rt is not None and self._store.list(rt, None)[0]:
            return
        current = self._store.get(crd_rt, None, crd["metadata"]["name"])
        finalizers = current["metadata"].get("finalizers") or []
        if CLEANUP_FINALIZER in finalizers:
            current["metadata"]["finalizers"] = [f for f in finalizers if f != CLEANUP_FINALIZER]
            self._store.update(crd_rt, None, current["metadata"]["name"], current)

    def _storage_type(self, crd: dict[str, Any]) -> ResourceType | None:
        spec = crd["spec"]
        for rt in self._store.types():
            if rt.key == (spec["group"], spec["names"]["plural"]):
                return rt
        return None


def resource_type_for(crd: dict[str, Any], version: dict[str, Any]) -> ResourceType:
    spec = crd["spec"]
    names = spec["names"]
    schema = (version.get("schema") or {}).get("openAPIV3Schema")
    return ResourceType(
        group=spec["group"],
        version=version["name"],
        kind=names["kind"],
        plural=names["plural"],
        singular=names.get("singular") or names["kind"].lower(),
        namespaced=spec["scope"] == "Namespaced",
        short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()),
        subresources=frozenset(version.get("subresources") or {}),
        schema=copy.deepcopy(schema) if schema is not None else None,
        printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
        from_crd=crd["metadata"]["name"],
    )


def crd_spec_causes(name: str, spec: Any) -> list[Cause]:
    """The CRD validation errors clients hit in practice, with the real field paths."""
    if not isinstance(spec, dict):
        return [Cause("spec", "Required value", "FieldValueRequired")]
    causes: list[Cause] = []
    group = spec.get("group")
    names_value = spec.get("names")
    names: dict[str, Any] = names_value if isinstance(names_value, dict) else {}
    if not group:
        causes.append(Cause("spec.group", "Required value", "FieldValueRequired"))
    elif not _SUBDOMAIN.match(str(group)) or "." not in str(group):
        causes.append(
            Cause(
                "spec.group", f'Invalid value: "{group}": should be a domain with at least one dot'
            )
        )
    plural = names.get("plural")
    if plural and group and name != f"{plural}.{group}":
        causes.append(
            Cause(
                "metadata.name",
                f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
            )
        )
    for field in ("plural", "singular", "listKind", "kind"):
        value = names.get(field)
        if field in ("plural", "kind") and not value:
            causes.append(Cause(f"spec.names.{field}", "Required value", "FieldValueRequired"))
            continue
        pattern = _KIND if field in ("kind", "listKind") else _DNS_LABEL
        if value and not pattern.match(str(value)):
            causes.append(Cause(f"spec.names.{field}", f'Invalid value: "{value}"'))
    scope = spec.get("scope")
    if scope not in ("Namespaced", "Cluster"):
        causes.append(
            Cause(
                "spec.scope",
                f'Unsupported value: "{scope or ""}": supported values: "Cluster", "Namespaced"',
                "FieldValueNotSupported",
            )
        )
    causes.extend(_version_causes(spec.get("versions")))
    return causes


def _version_causes(versions: Any) -> list[Cause]:
    if not isinstance(versions, list) or not versions:
        return [Cause("spec.versions", "Invalid value: null: must have exactly one version")]
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, version in enumerate(versions):
        if not isinstance(version, dict) or not _DNS_LABEL.match(str(version.get("name", ""))):
            causes.append(Cause(f"spec.versions[{i}].name", "Invalid value: must be a DNS label"))
            continue
        if version["name"] in seen:
            causes.append(
                Cause(f"spec.versions[{i}].name", f'Duplicate value: "{version["name"]}"')
            )
        seen.add(version["name"])
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            causes.append(
                Cause(
                    f"spec.versions[{i}].schema.openAPIV3Schema",
                    "Required value: schemas are required",
                    "FieldValueRequired",
                )
            )
    storage = [v for v in versions if isinstance(v, dict) and v.get("storage")]
    if len(storage) != 1:
        causes.append(
            Cause("spec.versions", "Invalid value: must have exactly one version marked as storage")
        )
    if not any(isinstance(v, dict) and v.get("served") for v in versions):
        causes.append(
            Cause("spec.versions", "Invalid value: must have at least one version marked as served")
        )
    return causes


def _rule_compile_causes(spec: dict[str, Any]) -> list[Cause]:
    """CEL rules that do not compile make the CRD invalid, as on a real server."""
    causes: list[Cause] = []
    for i, version in enumerate(spec["versions"]):
        schema = version["schema"]["openAPIV3Schema"]
        for cause in SchemaValidator(schema).compile_errors():
            field = f"spec.versions[{i}].schema.{cause.field}"
            causes.append(Cause(field, cause.message, cause.reason))
    return causes


def _immutable_causes(old_spec: dict[str, Any], new_spec: dict[str, Any]) -> list[Cause]:
    causes = []
    for field in ("group", "scope"):
        if old_spec.get(field) != new_spec.get(field):
            causes.append(Cause(f"spec.{field}", "Invalid value: field is immutable"))
    old_plural = (old_spec.get("names") or {}).get("plural")
    if old_plural != new_spec["names"]["plural"]:
        causes.append(Cause("spec.names.plural", "Invalid value: field is immutable"))
    return causes


def _crd_status(crd: dict[str, Any], old: dict[str, Any] | None) -> dict[str, Any]:
    spec = crd["spec"]
    names = spec["names"]
    accepted = {
        "plural": names["plural"],
        "singular": names.get("singular") or names["kind"].lower(),
        "kind": names["kind"],
        "listKind": names.get("listKind") or f"{names['kind']}List",
    }
    for field in ("shortNames", "categories"):
        if names.get(field):
            accepted[field] = list(names[field])
    old_status = (old or {}).get("status") or {}
    stored = list(old_status.get("storedVersions") or [])
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    if storage not in stored:
        stored.append(storage)
    wanted = [
        ("NamesAccepted", "NoConflicts", "no conflicts found"),
        ("Established", "InitialNamesAccepted", "the initial names have been accepted"),
    ]
    if crd["metadata"].get("deletionTimestamp"):
        wanted.append(
            ("Terminating", "InstanceDeletionInProgress", "CustomResource deletion is in progress")
        )
    previous = {c.get("type"): c for c in old_status.get("conditions") or []}
    conditions = []
    for type_, reason, message in wanted:
        before = previous.get(type_)
        since = (
            before.get("lastTransitionTime") if before and before.get("status") == "True" else None
        )
        conditions.append(
            {
                "type": type_,
                "status": "True",
                "reason": reason,
                "message": message,
                "lastTransitionTime": since or now_timestamp(),
            }
        )
    return {"conditions": conditions, "acceptedNames": accepted, "storedVersions": stored}
