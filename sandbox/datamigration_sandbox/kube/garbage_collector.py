"""Deletion cascades: ownerReference garbage collection and namespace termination.

Runs as a store listener, so cascades finish before the outermost write returns. Owners are
matched by uid, as kube-controller-manager's garbage collector does:
- Background: once the owner is gone, dependents without another live owner are deleted
  (dependents that still have one lose the dangling reference instead);
- Foreground: the owner waits (finalizer "foregroundDeletion") until its dependents with
  blockOwnerDeletion=true are gone; every dependent is deleted;
- Orphan: the owner's references are stripped from its dependents, then the owner goes.
A dependent created with a reference to an owner that does not exist is collected too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datamigration_sandbox.kube.resource_kinds import ResourceType
from datamigration_sandbox.kube.status_errors import ApiError

if TYPE_CHECKING:
    from datamigration_sandbox.kube.store import Store

FOREGROUND_FINALIZER = "foregroundDeletion"
ORPHAN_FINALIZER = "orphan"
NAMESPACE_FINALIZER = "kubernetes"


class GarbageCollector:
    def __init__(self, store: Store) -> None:
        self._store = store
        store.subscribe(self._on_event)

    def _on_event(
        self,
        event_type: str,
        rt: ResourceType,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
    ) -> None:
        meta = obj["metadata"]
        if event_type == "DELETED":
            self._collect_dependents_of(meta["uid"])
            self._release_waiting_owners(obj)
            namespace = meta.get("namespace")
            if namespace:
                self._finish_namespace(namespace)
            return
        if meta.get("deletionTimestamp"):
            finalizers = meta.get("finalizers") or []
            if ORPHAN_FINALIZER in finalizers:
                self._orphan_dependents(rt, obj)
            elif FOREGROUND_FINALIZER in finalizers:
                self._delete_dependents_in_foreground(rt, obj)
            if rt.key == ("", "namespaces"):
                self._empty_namespace(meta["name"])
        old_refs = None if old is None else old["metadata"].get("ownerReferences")
        if meta.get("ownerReferences") and meta.get("ownerReferences") != old_refs:
            self._drop_dangling_references(rt, obj)

    # --- owners -----------------------------------------------------------------------------

    def _collect_dependents_of(self, owner_uid: str) -> None:
        for rt, dependent in self._store.dependents_of(owner_uid):
            self._drop_dangling_references(rt, dependent)

    def _drop_dangling_references(self, rt: ResourceType, event_obj: dict[str, Any]) -> None:
        obj = self._current(rt, event_obj)
        if obj is None or obj["metadata"].get("deletionTimestamp"):
            return
        meta = obj["metadata"]
        refs = meta.get("ownerReferences") or []
        live = [ref for ref in refs if self._owner_exists(ref, meta.get("namespace"))]
        if len(live) == len(refs):
            return
        if live:
            self._set_owner_references(rt, obj, live)
        else:
            self._delete(rt, obj, "Background")

    def _owner_exists(self, ref: dict[str, Any], namespace: str | None) -> bool:
        owner_rt = self._store.lookup_kind(str(ref.get("apiVersion", "")), str(ref.get("kind", "")))
        if owner_rt is None:
            return True  # an owner of a kind we do not serve cannot be verified; keep it
        try:
            owner = self._store.get(
                owner_rt, namespace if owner_rt.namespaced else None, str(ref.get("name", ""))
            )
        except ApiError as exc:
            if exc.code == 404:
                return False
            raise
        return bool(owner["metadata"]["uid"] == ref.get("uid"))

    def _orphan_dependents(self, rt: ResourceType, owner: dict[str, Any]) -> None:
        uid = owner["metadata"]["uid"]
        for dep_rt, dependent in self._store.dependents_of(uid):
            refs = dependent["metadata"].get("ownerReferences") or []
            self._set_owner_references(
                dep_rt, dependent, [ref for ref in refs if ref.get("uid") != uid]
            )
        self._remove_finalizer(rt, owner, ORPHAN_FINALIZER)

    def _delete_dependents_in_foreground(self, rt: ResourceType, owner: dict[str, Any]) -> None:
        for dep_rt, dependent in self._store.dependents_of(owner["metadata"]["uid"]):
            if not dependent["metadata"].get("deletionTimestamp"):
                self._delete(dep_rt, dependent, "Foreground")
        self._finish_foreground(rt, owner)

    def _release_waiting_owners(self, dependent: dict[str, Any]) -> None:
        """A dependent is gone: owners waiting in foreground deletion may be done now."""
        namespace = dependent["metadata"].get("namespace")
        for ref in dependent["metadata"].get("ownerReferences") or []:
            owner_rt = self._store.lookup_kind(
                str(ref.get("apiVersion", "")), str(ref.get("kind", ""))
            )
            if owner_rt is None:
                continue
            try:
                owner = self._store.get(
                    owner_rt, namespace if owner_rt.namespaced else None, str(ref.get("name"))
                )
            except ApiError:
                continue
            meta = owner["metadata"]
            if meta["uid"] == ref.get("uid") and FOREGROUND_FINALIZER in (
                meta.get("finalizers") or []
            ):
                self._finish_foreground(owner_rt, owner)

    def _finish_foreground(self, rt: ResourceType, owner: dict[str, Any]) -> None:
        uid = owner["metadata"]["uid"]
        for _, dependent in self._store.dependents_of(uid):
            for ref in dependent["metadata"].get("ownerReferences") or []:
                if ref.get("uid") == uid and ref.get("blockOwnerDeletion"):
                    return
        self._remove_finalizer(rt, owner, FOREGROUND_FINALIZER)

    # --- namespaces -------------------------------------------------------------------------

    def _empty_namespace(self, namespace: str) -> None:
        for rt, obj in self._store.objects_in_namespace(namespace):
            if not obj["metadata"].get("deletionTimestamp"):
                self._delete(rt, obj, "Background")
        self._finish_namespace(namespace)

    def _finish_namespace(self, namespace: str) -> None:
        ns_rt = self._store.lookup("", "v1", "namespaces")
        try:
            ns = self._store.get(ns_rt, None, namespace)
        except ApiError:
            return
        finalizers = (ns.get("spec") or {}).get("finalizers") or []
        if not ns["metadata"].get("deletionTimestamp") or NAMESPACE_FINALIZER not in finalizers:
            return
        if self._store.objects_in_namespace(namespace):
            return
        remaining = [f for f in finalizers if f != NAMESPACE_FINALIZER]
        ns["spec"] = {**ns["spec"], "finalizers": remaining}
        self._store.update(ns_rt, None, namespace, ns, subresource="finalize")

    # --- writes -----------------------------------------------------------------------------

    def _delete(self, rt: ResourceType, obj: dict[str, Any], policy: str) -> None:
        meta = obj["metadata"]
        try:
            self._store.delete(
                rt,
                meta.get("namespace"),
                meta["name"],
                propagation_policy=policy,
                preconditions={"uid": meta["uid"]},
            )
        except ApiError as exc:
            if exc.code not in (404, 409):  # already gone or replaced by a namesake
                raise

    def _set_owner_references(
        self, rt: ResourceType, obj: dict[str, Any], refs: list[dict[str, Any]]
    ) -> None:
        current = self._current(rt, obj)
        if current is None:
            return
        if refs:
            current["metadata"]["ownerReferences"] = refs
        else:
            current["metadata"].pop("ownerReferences", None)
        meta = current["metadata"]
        self._store.update(rt, meta.get("namespace"), meta["name"], current)

    def _current(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any] | None:
        """The stored state of the object an event was about; None once it is gone."""
        meta = obj["metadata"]
        try:
            current = self._store.get(rt, meta.get("namespace"), meta["name"])
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        return current if current["metadata"]["uid"] == meta["uid"] else None

    def _remove_finalizer(self, rt: ResourceType, obj: dict[str, Any], finalizer: str) -> None:
        current = self._current(rt, obj)
        if current is None:
            return
        meta = current["metadata"]
        finalizers = meta.get("finalizers") or []
        if finalizer in finalizers:
            meta["finalizers"] = [f for f in finalizers if f != finalizer]
            self._store.update(rt, meta.get("namespace"), meta["name"], current)
