"""The in-memory data of the sandbox Weaviate: collections with their schema and objects.

An object is a plain dict {"id", "class", "properties", "vector" (float32 bytes or None),
"vectors" ({name: (float32 bytes, multi?)}), "creationTimeUnix", "lastUpdateTimeUnix"}; the
properties hold checked Python values and references as lists of {"beacon": ...}. `put` adds
"encoded" (wire.EncodedObject): the object's values in the gRPC wire format, written once so
Search replies are assembled from bytes. Non-reference values are never changed in place (an
update is a new object), so it stays in step with "properties". Objects are kept sorted
by id lazily for the cursor API (sorted on demand, kept until an object is added or deleted).
"""

from __future__ import annotations

import bisect
import copy
import operator
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from datamigration_sandbox.weaviate.api_errors import WeaviateError, not_found, unprocessable
from datamigration_sandbox.weaviate.property_values import (
    Coercer,
    PropertyValueError,
    coercer_for,
    infer_property,
)
from datamigration_sandbox.weaviate.schema import (
    build_class,
    build_property,
    capitalize,
    is_reference,
)
from datamigration_sandbox.weaviate.wire import encode_object, value_names

BEACON_PREFIX = "weaviate://localhost/"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def beacon(target_class: str | None, uuid: str) -> dict[str, str]:
    path = f"{target_class}/{uuid}" if target_class else uuid
    return {"beacon": BEACON_PREFIX + path}


def parse_beacon(value: str) -> tuple[str | None, str]:
    """(class or None, uuid) of `weaviate://localhost/[Class/]uuid`."""
    if not value.startswith(BEACON_PREFIX):
        raise ValueError(f"invalid beacon {value!r}")
    parts = value[len(BEACON_PREFIX) :].split("/")
    if len(parts) == 1:
        return None, parts[0].lower()
    if len(parts) == 2:
        return parts[0], parts[1].lower()
    raise ValueError(f"invalid beacon {value!r}")


_object_id = operator.itemgetter("id")


class Collection:
    """One class: its schema dict, its objects and the checks of their property values."""

    def __init__(self, schema: dict[str, Any], on_delete: Callable[[], None] | None = None) -> None:
        self.schema = schema
        self.name: str = schema["class"]
        self.objects: dict[str, dict[str, Any]] = {}
        self._on_delete = on_delete
        # the objects in uuid order (a cursor page is a slice of it) and their ids, both
        # built on demand and kept until an object is added or deleted
        self._sorted_objects: list[dict[str, Any]] | None = None
        self._sorted_ids: list[str] | None = None
        self._properties: dict[str, dict[str, Any]] = {}
        # the properties wire.encode_object writes values of (not references), in order
        self._value_names: tuple[str, ...] = value_names(())
        self._coercers: dict[str, Coercer] = {}
        for prop in schema["properties"]:
            self._index(prop)

    def _index(self, prop: dict[str, Any]) -> None:
        self._properties[prop["name"]] = prop
        if not prop["dataType"][0][:1].isupper():
            self._value_names = value_names((*self._value_names, prop["name"]))
        if not is_reference(prop):
            self._coercers[prop["name"]] = coercer_for(prop, self.name)

    @property
    def multi_tenant(self) -> bool:
        return bool(self.schema["multiTenancyConfig"].get("enabled"))

    def property(self, name: str) -> dict[str, Any] | None:
        return self._properties.get(name)

    def add_property(self, prop: dict[str, Any]) -> None:
        if any(existing.lower() == prop["name"].lower() for existing in self._properties):
            raise unprocessable(  # weaviate-server 1.35's words
                f'class "{self.name}": conflict for property "{prop["name"]}": '
                "already in use or provided multiple times"
            )
        self.schema["properties"].append(prop)
        self._index(prop)

    def check_properties(
        self, values: dict[str, Any], *, auto_schema: bool, known_classes: Any, rest: bool = False
    ) -> dict[str, Any]:
        """Checked values; unknown properties are added (auto-schema) or refused. `rest`: from
        a REST JSON body, whose values auto-schema types differently (see infer_property)."""
        checked: dict[str, Any] = {}
        coercers = self._coercers
        for key, value in values.items():
            coerce = coercers.get(key)
            if coerce is None:
                coerce = self._unknown(key, value, auto_schema, known_classes, rest)
                if coerce is None:
                    continue
            checked[key] = coerce(value)
        return checked

    def _unknown(
        self, key: str, value: Any, auto_schema: bool, known_classes: Any, rest: bool = False
    ) -> Coercer | None:
        if key in self._properties:
            raise PropertyValueError(
                f"property '{key}' on class '{self.name}' is a reference; "
                "send it as a reference, not a value"
            )
        if not auto_schema:
            raise PropertyValueError(
                f"no such prop with name '{key}' found in class '{self.name}' in the schema. "
                "Check your schema files for which properties in this class are available"
            )
        inferred = infer_property(key, value, rest=rest)
        if inferred is None:
            return None  # nothing to learn from a gRPC empty list or null
        try:
            prop = build_property(inferred, self.name, known_classes)
        except WeaviateError as error:
            raise PropertyValueError(error.message) from None
        self.add_property(prop)
        return self._coercers[key]

    def put(self, obj: dict[str, Any]) -> None:
        """Insert or replace (keeping the first creation time), as Weaviate's upsert does."""
        uuid = obj["id"]
        obj["encoded"] = encode_object(uuid, obj["properties"], self._properties, self._value_names)
        old = self.objects.get(uuid)
        if old is None:
            # re-sorted on the next cursor read: cheaper than an insort per object in bulk loads
            self._sorted_objects = self._sorted_ids = None
        else:
            obj["creationTimeUnix"] = old["creationTimeUnix"]
            ordered = self._sorted_objects
            if ordered is not None:
                ordered[bisect.bisect_left(ordered, uuid, key=_object_id)] = obj
        self.objects[uuid] = obj

    def delete(self, uuid: str) -> bool:
        if self.objects.pop(uuid, None) is None:
            return False
        self._sorted_objects = self._sorted_ids = None
        if self._on_delete is not None:
            self._on_delete()
        return True

    def sorted_objects(self) -> list[dict[str, Any]]:
        ordered = self._sorted_objects
        if ordered is None:
            # sorting the objects by id beats sorting the ids and looking each one up
            ordered = self._sorted_objects = sorted(self.objects.values(), key=_object_id)
        return ordered

    def sorted_ids(self) -> list[str]:
        ids = self._sorted_ids
        if ids is None:
            ids = self._sorted_ids = list(map(_object_id, self.sorted_objects()))
        return ids

    def page(self, after: str, count: int) -> list[dict[str, Any]]:
        """Up to `count` objects in uuid order after the id `after` (the cursor API)."""
        ordered = self.sorted_objects()
        start = bisect.bisect_right(ordered, after, key=_object_id)
        return ordered[start : start + count]

    def ids_after(self, after: str) -> Iterator[str]:
        ids = self.sorted_ids()
        start = bisect.bisect_right(ids, after)
        # no slice: a cursor page would copy the rest of the ids each time
        return (ids[index] for index in range(start, len(ids)))


@dataclass
class Stats:
    """Counters the tests read to see what reached the server (written objects, searches)."""

    objects_written: int = 0
    failed_objects: int = 0
    search_calls: int = 0


class Database:
    """Every collection of the server, looked up case-insensitively on the first letter."""

    def __init__(self, *, auto_schema: bool = True) -> None:
        self.auto_schema = auto_schema
        self.collections: dict[str, Collection] = {}
        self.stats = Stats()
        # Search's RefPropertiesResult member by beacon, for a target asked for with no
        # properties and only its id (grpc_service): validation reads each conversation's
        # beacon about eight times, in random order. Only found targets are kept, and what a
        # member encodes (class and id) outlives a replacement, so only a delete or a drop
        # clears it.
        self.reference_members: dict[str, bytes] = {}

    def create(self, body: Any) -> dict[str, Any]:
        schema = build_class(body, self.collections)
        self.collections[schema["class"]] = Collection(
            schema, on_delete=self.reference_members.clear
        )
        return copy.deepcopy(schema)

    def get(self, name: str) -> Collection:
        collection = self.find(name)
        if collection is None:
            raise not_found(f"could not find class {name} in schema")
        return collection

    def find(self, name: str) -> Collection | None:
        return self.collections.get(capitalize(name))

    def drop(self, name: str) -> bool:
        self.reference_members.clear()
        return self.collections.pop(capitalize(name), None) is not None

    def update_class(self, name: str, body: Any) -> dict[str, Any]:
        """`PUT /v1/schema/{name}`: the description is what may change here (what the
        operator's ownership claim needs); the class name must match, as in Weaviate."""
        collection = self.get(name)
        if not isinstance(body, dict) or str(body.get("class", "")).lower() != name.lower():
            raise unprocessable(f"class name in body does not match {name}")
        description = body.get("description")
        if description:
            collection.schema["description"] = str(description)
        else:
            collection.schema.pop("description", None)
        return copy.deepcopy(collection.schema)

    def add_property(self, name: str, body: Any) -> dict[str, Any]:
        collection = self.get(name)
        prop = build_property(body, collection.name, self.collections)
        collection.add_property(prop)
        return copy.deepcopy(prop)

    def resolve(self, target_class: str | None, uuid: str) -> dict[str, Any] | None:
        """The object a beacon points to (a classless beacon searches every collection)."""
        if target_class is not None:
            collection = self.find(target_class)
            return None if collection is None else collection.objects.get(uuid)
        for collection in self.collections.values():
            found = collection.objects.get(uuid)
            if found is not None:
                return found
        return None
