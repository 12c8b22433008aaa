"""One controller per owner object (a Job, a Deployment), as kube-controller-manager keeps them.

A controller is keyed by the owner's (namespace, name); an owner re-created under the same name
(another uid) replaces it. Pod events reach the controller named by the pod's controller
ownerReference, if its uid still matches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Generic, Protocol, TypeVar

PODS: Final = ("", "pods")
# Changes a waiting or running pod depends on: scheduling, claims, env and volume sources,
# ServiceAccounts. Every controller is kicked on them.
WAITED_ON: Final = frozenset(
    {
        ("", "nodes"),
        ("", "persistentvolumeclaims"),
        ("", "secrets"),
        ("", "configmaps"),
        ("", "serviceaccounts"),
    }
)


class OwnerController(Protocol):
    namespace: str
    name: str
    uid: str

    def start(self) -> None: ...
    def close(self) -> None: ...
    def wake(self) -> None: ...
    def kick(self) -> None: ...
    def pod_deleted(self, pod: str) -> None: ...


C = TypeVar("C", bound=OwnerController)
# (namespace, name, uid) -> a new controller, not yet started
Factory = Callable[[str, str, str], C]


class OwnerControllers(Generic[C]):
    def __init__(self, owner_kind: str, make: Factory[C]) -> None:
        self._kind = owner_kind
        self._make = make
        self._by_key: dict[tuple[str, str], C] = {}

    def get(self, namespace: str, name: str) -> C | None:
        return self._by_key.get((namespace, name))

    def all(self) -> list[C]:
        return list(self._by_key.values())

    def clear(self) -> list[C]:
        """Forgets every controller; returns them (the caller halts them)."""
        controllers = self.all()
        self._by_key.clear()
        return controllers

    def for_owner(self, owner: dict[str, Any]) -> C:
        """The owner's controller, started if new; one of a previous owner is closed."""
        meta = owner["metadata"]
        key = (meta["namespace"], meta["name"])
        current = self._by_key.get(key)
        if current is not None and current.uid == meta["uid"]:
            return current
        if current is not None:  # an owner of the same name replaced the old one
            current.close()
        controller = self._make(meta["namespace"], meta["name"], meta["uid"])
        self._by_key[key] = controller
        controller.start()
        return controller

    def close_owner(self, owner: dict[str, Any]) -> None:
        """The owner was deleted: its controller (if it is this uid's) closes."""
        meta = owner["metadata"]
        current = self._by_key.get((meta["namespace"], meta["name"]))
        if current is not None and current.uid == meta["uid"]:
            current.close()

    def forget(self, controller: C) -> None:
        key = (controller.namespace, controller.name)
        if self._by_key.get(key) is controller:
            del self._by_key[key]

    def on_dependency(self, event_type: str, key: tuple[str, str], obj: dict[str, Any]) -> None:
        """A store event of another kind than the owner's: a pod reaches its controller, a
        change of what pods wait on (WAITED_ON) kicks every controller."""
        if key == PODS:
            self.route_pod(event_type, obj)
        elif key in WAITED_ON:
            for controller in self.all():
                controller.kick()

    def route_pod(self, event_type: str, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        for ref in meta.get("ownerReferences") or []:
            if ref.get("kind") != self._kind or not ref.get("controller"):
                continue
            controller = self._by_key.get((meta["namespace"], ref.get("name", "")))
            if controller is None or controller.uid != ref.get("uid"):
                continue
            if event_type == "DELETED":
                controller.pod_deleted(meta["name"])
            controller.wake()
