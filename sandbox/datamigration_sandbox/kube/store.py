"""The in-memory object store behind the Kubernetes API emulator.

It owns what etcd plus the generic registry own on a real server: uid, creationTimestamp,
generateName, one global resourceVersion, optimistic concurrency (409), generation, the status
subresource, finalizers and deletionTimestamp, watch history. Controllers that a real cluster
runs beside the API server (garbage collector, namespace lifecycle, CRD establishment, rollout
status) are installed as listeners of the store.

The store lives on one event loop and is not thread-safe. Listeners run synchronously after each
commit; changes they make are queued, so every listener sees events in resourceVersion order.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from datamigration_sandbox.kube import status_errors
from datamigration_sandbox.kube.builtin_defaults import admit_builtin
from datamigration_sandbox.kube.crd_controller import CrdController
from datamigration_sandbox.kube.garbage_collector import (
    FOREGROUND_FINALIZER,
    ORPHAN_FINALIZER,
    GarbageCollector,
)
from datamigration_sandbox.kube.object_meta import (
    generate_name,
    name_causes,
    now_timestamp,
    tracks_generation,
    without_meta_and_status,
)
from datamigration_sandbox.kube.patches import apply_patch
from datamigration_sandbox.kube.resource_kinds import BUILTIN_TYPES, ResourceType
from datamigration_sandbox.kube.rollout_controller import RolloutController
from datamigration_sandbox.kube.status_errors import ApiError, Cause
from datamigration_sandbox.kube.watch import (
    ObjectFilter,
    RecordedEvent,
    Watch,
    WatchEvent,
    WatchHub,
)

__all__ = ["Admission", "Listener", "Store", "Watch", "WatchEvent"]

_log = logging.getLogger(__name__)

Listener = Callable[[str, ResourceType, dict[str, Any], dict[str, Any] | None], None]
Admission = Callable[[str, ResourceType, dict[str, Any], dict[str, Any] | None], dict[str, Any]]

NAMESPACES = ("", "namespaces")
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public")
PROPAGATION_POLICIES = ("Background", "Foreground", "Orphan")
# Fields of metadata that only the server sets; a client's values are ignored.
_SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds")
# Status a freshly created object starts with (the real registries reset status on create).
_INITIAL_STATUS: dict[tuple[str, str], dict[str, Any]] = {
    NAMESPACES: {"phase": "Active"},
    ("", "pods"): {"phase": "Pending"},
    ("", "persistentvolumeclaims"): {"phase": "Pending"},
}
_NOT_SERVED = "the server could not find the requested resource"

_Key = tuple[str, str]  # (namespace or "", name)
# Aliases: inside Store, the name `list` is the list() method.
Objects = list[dict[str, Any]]
TypedObjects = list[tuple[ResourceType, dict[str, Any]]]


class Store:
    def __init__(self, *, watch_history: int = 2000, rollout_delay: float = 0.2) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        # The type used to report objects of a storage key when no request names a version.
        self._storage_types: dict[tuple[str, str], ResourceType] = {}
        self._objects: dict[tuple[str, str], dict[_Key, dict[str, Any]]] = {}
        self._rv = 0
        self._hub = WatchHub(watch_history)
        self._listeners: list[Listener] = []
        self._admission: list[Admission] = []
        self._pending: deque[tuple[str, ResourceType, dict[str, Any], dict[str, Any] | None]]
        self._pending = deque()
        self._dispatching = False
        for rt in BUILTIN_TYPES:
            self.register_type(rt)
        self.add_admission(admit_builtin)
        self.garbage_collector = GarbageCollector(self)
        self.crd_controller = CrdController(self)
        self.rollout_controller = RolloutController(self, delay=rollout_delay)
        namespace_type = self.lookup("", "v1", "namespaces")
        for name in INITIAL_NAMESPACES:
            self.create(namespace_type, None, {"metadata": {"name": name}})

    # --- resource types -------------------------------------------------------------------

    def register_type(self, rt: ResourceType) -> None:
        self._types[(rt.group, rt.version, rt.plural)] = rt
        self._storage_types.setdefault(rt.key, rt)
        self._objects.setdefault(rt.key, {})

    def unregister_type(self, group: str, plural: str) -> None:
        """Stops serving every version of (group, plural); stored objects are kept."""
        for key in [k for k in self._types if (k[0], k[2]) == (group, plural)]:
            del self._types[key]
        self._storage_types.pop((group, plural), None)

    def types(self) -> list[ResourceType]:
        return list(self._types.values())

    def lookup(self, group: str, version: str, plural: str) -> ResourceType:
        rt = self._types.get((group, version, plural))
        if rt is None:
            raise ApiError(404, "NotFound", _NOT_SERVED)
        return rt

    def lookup_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        for rt in self._types.values():
            if (rt.group, rt.version, rt.kind) == (group, version, kind):
                return rt
        return None

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    # --- reads ------------------------------------------------------------------------------

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        return self._out(rt, self._stored(rt, self._scope(rt, namespace), name))

    def list(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[Objects, str]:
        object_filter = ObjectFilter(
            namespace if rt.namespaced else None, label_selector, field_selector
        )
        items = [self._out(rt, obj) for obj in self._sorted(rt) if object_filter.matches(obj)]
        return items, self.resource_version

    def watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        resource_version: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> Watch:
        object_filter = ObjectFilter(
            namespace if rt.namespaced else None, label_selector, field_selector
        )
        return self._hub.open(rt, object_filter, resource_version, self._sorted(rt))

    def objects_in_namespace(self, namespace: str) -> TypedObjects:
        """Every stored object of a namespace, with the type it is reported as."""
        return [
            (rt, self._out(rt, obj))
            for rt, obj in self._all_objects()
            if obj["metadata"].get("namespace") == namespace
        ]

    def dependents_of(self, uid: str) -> TypedObjects:
        """Objects that carry an ownerReference to the object with this uid."""
        return [
            (rt, self._out(rt, obj))
            for rt, obj in self._all_objects()
            if any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences") or [])
        ]

    # --- writes -----------------------------------------------------------------------------

    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        obj: dict[str, Any],
        *,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        body = _object_body(rt, obj)
        namespace = self._scope(rt, namespace, body)
        meta = body["metadata"]
        bucket = self._objects[rt.key]
        name = meta.get("name") or ""
        if not name:
            prefix = meta.get("generateName") or ""
            if not prefix:
                cause = Cause(
                    "metadata.name",
                    "Required value: name or generateName is required",
                    "FieldValueRequired",
                )
                raise status_errors.invalid(rt.kind, rt.group, "", [cause])
            name = generate_name(prefix)
            while (namespace or "", name) in bucket:
                name = generate_name(prefix)
        causes = name_causes(rt, name)
        if causes:
            raise status_errors.invalid(rt.kind, rt.group, name, causes)
        if namespace is not None:
            self._require_open_namespace(namespace)
        if (namespace or "", name) in bucket:
            raise status_errors.already_exists(rt.plural, rt.group, name)
        for field in (*_SYSTEM_META, "resourceVersion", "generation", "selfLink"):
            meta.pop(field, None)
        meta["name"] = name
        if namespace is not None:
            meta["namespace"] = namespace
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_timestamp()
        if tracks_generation(rt):
            meta["generation"] = 1
        if "status" in rt.subresources:
            body.pop("status", None)
            if rt.key in _INITIAL_STATUS:
                body["status"] = copy.deepcopy(_INITIAL_STATUS[rt.key])
        if rt.key == NAMESPACES:
            body["spec"] = {"finalizers": ["kubernetes"]}
        body = self._admit("CREATE", rt, body, None)
        if dry_run:
            return self._out(rt, body)
        return self._commit(rt, "ADDED", body, None)

    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        obj: dict[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        # Custom resources refuse unconditional updates, as apiextensions-apiserver does.
        return self._write(
            rt,
            namespace,
            name,
            _object_body(rt, obj),
            subresource=subresource,
            dry_run=dry_run,
            unconditional=rt.from_crd is None,
        )

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        self._check_subresource(rt, subresource)
        current = self.get(rt, namespace, name)
        stored_rv = current["metadata"]["resourceVersion"]
        patched = apply_patch(content_type, current, body, strategic_allowed=rt.from_crd is None)
        patched = _object_body(rt, patched)
        # A resourceVersion carried by the patch is a precondition.
        wanted_rv = patched["metadata"].get("resourceVersion")
        if wanted_rv and wanted_rv != stored_rv:
            raise status_errors.conflict(rt.plural, rt.group, name)
        patched["metadata"]["resourceVersion"] = stored_rv
        return self._write(
            rt,
            namespace,
            name,
            patched,
            subresource=subresource,
            dry_run=dry_run,
            unconditional=True,
        )

    def delete(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        *,
        propagation_policy: str | None = None,
        preconditions: dict[str, Any] | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Deletes, or marks for deletion while finalizers remain.

        The default propagation is Background for every type, Jobs included: the real server
        still defaults batch/v1 Jobs to Orphan for old clients, but kubectl sends Background.
        """
        namespace = self._scope(rt, namespace)
        old = self._stored(rt, namespace, name)
        if rt.key == NAMESPACES and name in INITIAL_NAMESPACES:
            raise ApiError(
                403,
                "Forbidden",
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                {"name": name, "kind": "namespaces"},
            )
        _check_preconditions(rt, old, preconditions or {})
        policy = propagation_policy or "Background"
        if policy not in PROPAGATION_POLICIES:
            raise status_errors.bad_request(
                f'propagationPolicy: Unsupported value: "{policy}": supported values: '
                '"Foreground", "Background", "Orphan"'
            )
        if old["metadata"].get("deletionTimestamp"):
            return self._out(rt, old)
        new = copy.deepcopy(old)
        meta = new["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        extra = {"Foreground": FOREGROUND_FINALIZER, "Orphan": ORPHAN_FINALIZER}.get(policy)
        if extra and extra not in finalizers:
            finalizers.append(extra)
        if rt.key == NAMESPACES:
            new["status"] = {**(new.get("status") or {}), "phase": "Terminating"}
        if finalizers or _spec_finalizers(rt, new):
            meta["finalizers"] = finalizers
            meta["deletionTimestamp"] = now_timestamp()
            meta["deletionGracePeriodSeconds"] = 0
            if meta.get("generation"):  # controllers must notice the deletion, as on a real server
                meta["generation"] += 1
            if dry_run:
                return self._out(rt, new)
            return self._commit(rt, "MODIFIED", new, old)
        if dry_run:
            return self._out(rt, old)
        return self._commit(rt, "DELETED", copy.deepcopy(old), old)

    def delete_collection(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> Objects:
        items, _ = self.list(
            rt, namespace, label_selector=label_selector, field_selector=field_selector
        )
        deleted: Objects = []
        for item in items:
            meta = item["metadata"]
            try:
                deleted.append(self.delete(rt, meta.get("namespace"), meta["name"]))
            except ApiError as exc:
                if exc.code != 404:  # a cascade removed it meanwhile
                    raise
        return deleted

    # --- listeners and admission ------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def add_admission(self, hook: Admission) -> None:
        self._admission.append(hook)

    def close_watches(self, rt: ResourceType) -> None:
        """Ends every watch on the type's storage (used when its CRD is removed)."""
        self._hub.close_all(rt.key)

    # --- internals --------------------------------------------------------------------------

    def _write(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: dict[str, Any],
        *,
        subresource: str | None,
        dry_run: bool,
        unconditional: bool,
    ) -> dict[str, Any]:
        self._check_subresource(rt, subresource)
        namespace = self._scope(rt, namespace, body)
        old = self._stored(rt, namespace, name)
        old_meta = old["metadata"]
        body_meta = body["metadata"]
        if body_meta.get("name", name) != name:
            raise status_errors.bad_request(
                f"the name of the object ({body_meta.get('name')}) does not match the name on "
                f"the URL ({name})"
            )
        wanted_rv = body_meta.get("resourceVersion") or ""
        if wanted_rv and wanted_rv != old_meta["resourceVersion"]:
            raise status_errors.conflict(rt.plural, rt.group, name)
        if not wanted_rv and not unconditional:
            cause = Cause(
                "metadata.resourceVersion", "Invalid value: 0x0: must be specified for an update"
            )
            raise status_errors.invalid(rt.kind, rt.group, name, [cause])
        new = _next_state(rt, old, body, subresource)
        _check_finalizers(rt, old, new)
        new = self._admit("UPDATE", rt, new, old)
        if tracks_generation(rt) and without_meta_and_status(new) != without_meta_and_status(old):
            new["metadata"]["generation"] = old_meta.get("generation", 1) + 1
        new["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
        new["apiVersion"], new["kind"] = old["apiVersion"], old["kind"]
        if new == old:  # a no-op write keeps the resourceVersion and sends no event
            return self._out(rt, old)
        if dry_run:
            return self._out(rt, new)
        meta = new["metadata"]
        if (
            meta.get("deletionTimestamp")
            and not meta.get("finalizers")
            and not _spec_finalizers(rt, new)
        ):
            return self._commit(rt, "DELETED", new, old)
        return self._commit(rt, "MODIFIED", new, old)

    def _commit(
        self, rt: ResourceType, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> dict[str, Any]:
        self._rv += 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self._rv)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        key = (meta.get("namespace") or "", meta["name"])
        if event_type == "DELETED":
            self._objects[rt.key].pop(key, None)
        else:
            self._objects[rt.key][key] = obj
        self._hub.record(RecordedEvent(self._rv, event_type, rt.key, obj, old))
        result = self._out(rt, obj)
        self._pending.append((event_type, rt, obj, old))
        self._dispatch()
        return result

    def _dispatch(self) -> None:
        if self._dispatching:
            return  # the outer dispatch loop delivers it after the current event
        self._dispatching = True
        try:
            while self._pending:
                event_type, rt, obj, old = self._pending.popleft()
                for listener in list(self._listeners):
                    try:
                        listener(
                            event_type,
                            rt,
                            self._out(rt, obj),
                            None if old is None else self._out(rt, old),
                        )
                    except Exception:
                        _log.exception(
                            "store listener failed on %s %s %s",
                            event_type,
                            rt.group_resource,
                            obj["metadata"]["name"],
                        )
        finally:
            self._dispatching = False

    def _admit(
        self, operation: str, rt: ResourceType, new: dict[str, Any], old: dict[str, Any] | None
    ) -> dict[str, Any]:
        for hook in self._admission:
            new = hook(operation, rt, new, None if old is None else copy.deepcopy(old))
        return new

    def _check_subresource(self, rt: ResourceType, subresource: str | None) -> None:
        if subresource is None:
            return
        if subresource == "status" and "status" in rt.subresources:
            return
        if subresource == "finalize" and rt.key == NAMESPACES:
            return
        raise ApiError(404, "NotFound", _NOT_SERVED)

    def _scope(
        self, rt: ResourceType, namespace: str | None, body: dict[str, Any] | None = None
    ) -> str | None:
        if not rt.namespaced:
            if body is not None:
                body["metadata"].pop("namespace", None)
            return None
        if not namespace:
            raise status_errors.bad_request("the namespace of the object must be specified")
        if body is not None:
            body_ns = body["metadata"].get("namespace")
            if body_ns and body_ns != namespace:
                raise status_errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on "
                    "the request"
                )
        return namespace

    def _stored(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self._objects.get(rt.key, {}).get((namespace or "", name))
        if obj is None:
            raise status_errors.not_found(rt.plural, rt.group, name)
        return obj

    def _require_open_namespace(self, namespace: str) -> None:
        ns = self._objects[NAMESPACES].get(("", namespace))
        if ns is None:
            raise status_errors.not_found("namespaces", "", namespace)
        if ns["metadata"].get("deletionTimestamp"):
            raise ApiError(
                403,
                "Forbidden",
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated",
                {"name": namespace, "kind": "namespaces"},
            )

    def _sorted(self, rt: ResourceType) -> Objects:
        bucket = self._objects.get(rt.key, {})
        return [bucket[key] for key in sorted(bucket)]

    def _all_objects(self) -> Iterator[tuple[ResourceType, dict[str, Any]]]:
        for key, bucket in self._objects.items():
            rt = self._storage_types.get(key)
            if rt is not None:
                for obj in list(bucket.values()):
                    yield rt, obj

    @staticmethod
    def _out(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        rest = copy.deepcopy({k: v for k, v in obj.items() if k not in ("apiVersion", "kind")})
        return {"apiVersion": rt.api_version, "kind": rt.kind, **rest}


def _object_body(rt: ResourceType, obj: Any) -> dict[str, Any]:
    """A private copy of a request body, with its type identity checked."""
    if not isinstance(obj, dict):
        raise status_errors.bad_request("the body of the request must be a JSON object")
    body = copy.deepcopy(obj)
    api_version = body.get("apiVersion")
    if api_version and api_version.rpartition("/")[0] != rt.group:
        raise status_errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({rt.api_version})"
        )
    kind = body.get("kind")
    if kind and kind != rt.kind:
        raise status_errors.bad_request(
            f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})"
        )
    meta = body.get("metadata")
    if meta is None:
        body["metadata"] = {}
    elif not isinstance(meta, dict):
        raise status_errors.bad_request("metadata must be a JSON object")
    return body


def _next_state(
    rt: ResourceType, old: dict[str, Any], body: dict[str, Any], subresource: str | None
) -> dict[str, Any]:
    """The object an update would store, before admission and generation."""
    if subresource is not None:
        # Subresource writes change their own part and nothing else.
        new = copy.deepcopy(old)
        if subresource == "finalize":
            spec = body.get("spec") or {}
            new.setdefault("spec", {})["finalizers"] = list(spec.get("finalizers") or [])
        elif "status" in body:
            new["status"] = copy.deepcopy(body["status"])
        else:
            new.pop("status", None)
        return new
    new = copy.deepcopy(body)
    meta = new["metadata"]
    old_meta = old["metadata"]
    if meta.get("uid") and meta["uid"] != old_meta["uid"]:
        cause = Cause("metadata.uid", f'Invalid value: "{meta["uid"]}": field is immutable')
        raise status_errors.invalid(rt.kind, rt.group, old_meta["name"], [cause])
    for field in (*_SYSTEM_META, "generation", "name", "namespace"):
        if field in old_meta:
            meta[field] = old_meta[field]
        else:
            meta.pop(field, None)
    if "status" in rt.subresources:
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
    if rt.key == NAMESPACES:  # spec.finalizers move only through /finalize
        new["spec"] = copy.deepcopy(old.get("spec") or {})
    return new


def _check_finalizers(rt: ResourceType, old: dict[str, Any], new: dict[str, Any]) -> None:
    old_meta = old["metadata"]
    if not old_meta.get("deletionTimestamp"):
        return
    before = set(old_meta.get("finalizers") or [])
    added = [f for f in new["metadata"].get("finalizers") or [] if f not in before]
    if added:
        listed = ", ".join(f'"{f}"' for f in added)
        cause = Cause(
            "metadata.finalizers",
            "Forbidden: no new finalizers can be added if the object is being deleted, "
            f"found new finalizers []string{{{listed}}}",
            "FieldValueForbidden",
        )
        raise status_errors.invalid(rt.kind, rt.group, old_meta["name"], [cause])


def _check_preconditions(
    rt: ResourceType, obj: dict[str, Any], preconditions: dict[str, Any]
) -> None:
    meta = obj["metadata"]
    for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        wanted = preconditions.get(field)
        if wanted and wanted != meta.get(field):
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {rt.group_resource} "{meta["name"]}": '
                f"Precondition failed: {label} in precondition: {wanted}, {label} in object "
                f"meta: {meta.get(field)}",
                {"name": meta["name"], "kind": rt.plural, "group": rt.group},
            )


def _spec_finalizers(rt: ResourceType, obj: dict[str, Any]) -> list[str]:
    """Namespaces keep their lifecycle finalizers in spec.finalizers."""
    spec = obj.get("spec")
    if rt.key != NAMESPACES or not isinstance(spec, dict):
        return []
    return list(spec.get("finalizers") or [])
