"""Collection (class) definitions: validation and the defaults a real Weaviate 1.32 fills in.

weaviate-client parses `GET /v1/schema/{name}` strictly, so every block it reads
(invertedIndexConfig, replicationConfig, shardingConfig, a full hnsw vectorIndexConfig, per-property
index flags and tokenization) is returned the way the real server returns it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

from datamigration_sandbox.weaviate.api_errors import unprocessable

_CLASS_NAME = re.compile(r"^[A-Z][_0-9A-Za-z]{0,254}$")
_PROPERTY_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,230}$")
_RESERVED_PROPERTY_NAMES = frozenset({"_additional", "_id", "id"})

SCALAR_TYPES = frozenset(
    {"text", "int", "number", "boolean", "date", "uuid", "geoCoordinates", "phoneNumber", "blob"}
)
ARRAY_TYPES = frozenset({"text[]", "int[]", "number[]", "boolean[]", "date[]", "uuid[]"})
OBJECT_TYPES = frozenset({"object", "object[]"})
PRIMITIVE_TYPES = SCALAR_TYPES | ARRAY_TYPES | OBJECT_TYPES
TEXT_TYPES = frozenset({"text", "text[]"})
TOKENIZATIONS = frozenset(
    {"word", "lowercase", "whitespace", "field", "trigram", "gse", "kagome_kr", "kagome_ja"}
)
_RANGE_TYPES = frozenset({"int", "number", "date"})


def capitalize(name: str) -> str:
    """Real Weaviate upper-cases the first letter of every class name it is given."""
    return name[:1].upper() + name[1:]


def is_reference(prop: Mapping[str, Any]) -> bool:
    data_type: list[str] = prop["dataType"]
    return data_type[0] not in PRIMITIVE_TYPES


def hnsw_index_config() -> dict[str, Any]:
    return {
        "bq": {"enabled": False},
        "cleanupIntervalSeconds": 300,
        "distance": "cosine",
        "dynamicEfFactor": 8,
        "dynamicEfMax": 500,
        "dynamicEfMin": 100,
        "ef": -1,
        "efConstruction": 128,
        "filterStrategy": "sweeping",
        "flatSearchCutoff": 40000,
        "maxConnections": 32,
        "multivector": {
            "aggregation": "maxSim",
            "enabled": False,
            "muvera": {"dprojections": 16, "enabled": False, "ksim": 4, "repetitions": 10},
        },
        "pq": {
            "bitCompression": False,
            "centroids": 256,
            "enabled": False,
            "encoder": {"distribution": "log-normal", "type": "kmeans"},
            "segments": 0,
            "trainingLimit": 100000,
        },
        "rq": {"bits": 8, "enabled": False, "rescoreLimit": 20},
        "skip": False,
        "sq": {"enabled": False, "rescoreLimit": 20, "trainingLimit": 100000},
        "vectorCacheMaxObjects": 1000000000000,
    }


def flat_index_config() -> dict[str, Any]:
    return {
        "bq": {"cache": False, "enabled": False, "rescoreLimit": -1},
        "distance": "cosine",
        "pq": {"cache": False, "enabled": False, "rescoreLimit": -1},
        "sq": {"cache": False, "enabled": False, "rescoreLimit": -1},
        "vectorCacheMaxObjects": 1000000000000,
    }


_INDEX_DEFAULTS: dict[str, Callable[[], dict[str, Any]]] = {
    "hnsw": hnsw_index_config,
    "flat": flat_index_config,
}


def _class_defaults() -> dict[str, Any]:
    return {
        "invertedIndexConfig": {
            "bm25": {"b": 0.75, "k1": 1.2},
            "cleanupIntervalSeconds": 60,
            "stopwords": {"additions": None, "preset": "en", "removals": None},
            "usingBlockMaxWAND": True,
        },
        "multiTenancyConfig": {
            "autoTenantActivation": False,
            "autoTenantCreation": False,
            "enabled": False,
        },
        "replicationConfig": {
            "asyncEnabled": False,
            "deletionStrategy": "NoAutomatedResolution",
            "factor": 1,
        },
        "shardingConfig": {
            "actualCount": 1,
            "actualVirtualCount": 128,
            "desiredCount": 1,
            "desiredVirtualCount": 128,
            "function": "murmur3",
            "key": "_id",
            "strategy": "hash",
            "virtualPerPhysical": 128,
        },
    }


def _merged(defaults: dict[str, Any], given: Any, where: str) -> dict[str, Any]:
    if given is None:
        return defaults
    if not isinstance(given, dict):
        raise unprocessable(f"{where} must be an object")
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value, f"{where}.{key}")
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _vector_index(index_type: Any, given: Any, where: str) -> dict[str, Any]:
    factory = _INDEX_DEFAULTS.get(index_type)
    if factory is None:
        raise unprocessable(f'{where}: unsupported vector index type "{index_type}"')
    return _merged(factory(), given, f"{where}.vectorIndexConfig")


def build_class(body: Any, known_classes: Mapping[str, Any]) -> dict[str, Any]:
    """The stored class for a `POST /v1/schema` body; 422 WeaviateError when it is invalid."""
    if not isinstance(body, dict):
        raise unprocessable("class definition must be a JSON object")
    raw_name = body.get("class")
    if not isinstance(raw_name, str) or not raw_name:
        raise unprocessable("class name must not be empty")
    name = capitalize(raw_name)
    if not _CLASS_NAME.match(name):
        raise unprocessable(
            f"'{raw_name}' is not a valid class name: must match /{_CLASS_NAME.pattern}/"
        )
    if name in known_classes:
        raise unprocessable(f"class name {name} already exists")

    result = _class_defaults()
    for key in ("invertedIndexConfig", "multiTenancyConfig", "replicationConfig"):
        result[key] = _merged(result[key], body.get(key), key)
    result["shardingConfig"] = _merged(result["shardingConfig"], body.get("shardingConfig"), "")
    if result["multiTenancyConfig"].get("enabled"):
        del result["shardingConfig"]
    result["class"] = name
    if body.get("description"):
        result["description"] = body["description"]
    if isinstance(body.get("moduleConfig"), dict) and body["moduleConfig"]:
        result["moduleConfig"] = copy.deepcopy(body["moduleConfig"])

    _fill_vectors(body, result)

    properties = body.get("properties") or []
    if not isinstance(properties, list):
        raise unprocessable("properties must be a list")
    own_known = {*known_classes, name}
    built: list[dict[str, Any]] = []
    for prop in properties:
        new = build_property(prop, name, own_known)
        if any(existing["name"].lower() == new["name"].lower() for existing in built):
            raise unprocessable(f"class '{name}' has a property named '{new['name']}' twice")
        built.append(new)
    result["properties"] = built
    return result


def _fill_vectors(body: Mapping[str, Any], result: dict[str, Any]) -> None:
    named = body.get("vectorConfig")
    if named is not None:
        if not isinstance(named, dict) or not named:
            raise unprocessable("vectorConfig must map vector names to their configuration")
        result["vectorConfig"] = {
            vector: _named_vector(vector, config) for vector, config in named.items()
        }
        return
    vectorizer = body.get("vectorizer") or "none"
    if vectorizer != "none":
        raise unprocessable(f'vectorizer: no module with name "{vectorizer}" present')
    index_type = body.get("vectorIndexType") or "hnsw"
    result["vectorizer"] = "none"
    result["vectorIndexType"] = index_type
    result["vectorIndexConfig"] = _vector_index(index_type, body.get("vectorIndexConfig"), "class")


def _named_vector(vector: str, config: Any) -> dict[str, Any]:
    if not isinstance(config, dict):
        raise unprocessable(f"vectorConfig.{vector} must be an object")
    vectorizer = config.get("vectorizer") or {"none": {}}
    if not isinstance(vectorizer, dict) or len(vectorizer) != 1:
        raise unprocessable(f"vectorConfig.{vector}.vectorizer must name exactly one module")
    module = next(iter(vectorizer))
    if module != "none":
        raise unprocessable(f'vectorConfig.{vector}: no module with name "{module}" present')
    index_type = config.get("vectorIndexType") or "hnsw"
    return {
        "vectorIndexConfig": _vector_index(
            index_type, config.get("vectorIndexConfig"), f"vectorConfig.{vector}"
        ),
        "vectorIndexType": index_type,
        "vectorizer": {"none": {}},
    }


def build_property(
    prop: Any, class_name: str, known_classes: Any, *, nested: bool = False
) -> dict[str, Any]:
    """A property with Weaviate's defaults; `known_classes` supports `in` for reference targets."""
    if not isinstance(prop, dict):
        raise unprocessable("property must be a JSON object")
    name = prop.get("name")
    if not isinstance(name, str) or not _PROPERTY_NAME.match(name):
        raise unprocessable(f"'{name}' is not a valid property name")
    if not nested and name.lower() in _RESERVED_PROPERTY_NAMES:
        raise unprocessable(f"'{name}' is a reserved property name")
    data_type = prop.get("dataType")
    if (
        not isinstance(data_type, list)
        or not data_type
        or not all(isinstance(t, str) for t in data_type)
    ):
        raise unprocessable(f"property '{name}': dataType must be a non-empty list of strings")
    result: dict[str, Any] = {"dataType": list(data_type), "name": name}
    if prop.get("description"):
        result["description"] = prop["description"]
    primitive = data_type[0] in PRIMITIVE_TYPES
    if primitive and len(data_type) != 1:
        raise unprocessable(f"property '{name}': a primitive dataType takes exactly one type")
    if not primitive:
        if nested:
            raise unprocessable(f"nested property '{name}' cannot be a reference")
        for target in data_type:
            if capitalize(target) not in known_classes:
                raise unprocessable(
                    f"property '{name}': invalid dataType: reference property to nonexistent "
                    f"class {target}"
                )
        result["dataType"] = [capitalize(target) for target in data_type]
    kind = data_type[0]
    text = kind in TEXT_TYPES
    tokenization = prop.get("tokenization")
    if tokenization is not None and not text:
        raise unprocessable(f"Tokenization is not allowed for data type '{kind}'")
    if text:
        tokenization = tokenization or "word"
        if tokenization not in TOKENIZATIONS:
            raise unprocessable(f"Tokenization '{tokenization}' is not allowed")
        result["tokenization"] = tokenization
    searchable = prop.get("indexSearchable")
    if searchable and not text:
        raise unprocessable(
            "`indexSearchable` is allowed only for text/text[] data types. "
            "For other data types set false or leave empty"
        )
    ranged = prop.get("indexRangeFilters")
    if ranged and kind not in _RANGE_TYPES:
        raise unprocessable(
            "`indexRangeFilters` is allowed only for number/int/date data types. "
            "For other data types set false or leave empty"
        )
    filterable = prop.get("indexFilterable")
    result["indexFilterable"] = kind != "blob" if filterable is None else bool(filterable)
    result["indexRangeFilters"] = bool(ranged)
    result["indexSearchable"] = text if searchable is None else bool(searchable)
    if kind in OBJECT_TYPES:
        children = prop.get("nestedProperties")
        if not isinstance(children, list) or not children:
            raise unprocessable(
                f"property '{name}': At least one nested property is required for data type "
                "object/object[]"
            )
        result["nestedProperties"] = [
            build_property(child, class_name, known_classes, nested=True) for child in children
        ]
    elif prop.get("nestedProperties"):
        raise unprocessable(f"property '{name}': nestedProperties are only allowed for objects")
    return result
