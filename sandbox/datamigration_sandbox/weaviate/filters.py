"""gRPC `Filters` compiled into a predicate over stored objects, with Weaviate's semantics.

Text is compared through its property's tokenization as the inverted index does ("word": lower
case alphanumeric tokens, so Equal("hello") matches "Hello, world"); array properties match when
any element matches; references are followed through their beacons.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from typing import Any

from weaviate.proto.v1 import base_pb2

from datamigration_sandbox.weaviate.api_errors import WeaviateError
from datamigration_sandbox.weaviate.database import Collection, Database, parse_beacon
from datamigration_sandbox.weaviate.property_values import parse_date
from datamigration_sandbox.weaviate.search import collection_stopwords

Predicate = Callable[[dict[str, Any]], bool]
_Op = base_pb2.Filters.Operator
_WORD_SPLIT = re.compile(r"[^\w]|_")
_META_TIMES = {"_creationTimeUnix": "creationTimeUnix", "_lastUpdateTimeUnix": "lastUpdateTimeUnix"}


def invalid(message: str) -> WeaviateError:
    return WeaviateError(422, f"invalid filter: {message}")


def tokenize(text: str, tokenization: str) -> list[str]:
    if tokenization == "field":
        return [text.strip()]
    if tokenization == "whitespace":
        return text.split()
    if tokenization == "lowercase":
        return text.lower().split()
    return [token for token in _WORD_SPLIT.split(text.lower()) if token]


def compile_filter(spec: Any, collection: Collection, database: Database) -> Predicate:
    operator = spec.operator
    if operator in (_Op.OPERATOR_AND, _Op.OPERATOR_OR, _Op.OPERATOR_NOT):
        children = [compile_filter(child, collection, database) for child in spec.filters]
        if operator == _Op.OPERATOR_AND:
            return lambda obj: all(child(obj) for child in children)
        if operator == _Op.OPERATOR_OR:
            return lambda obj: any(child(obj) for child in children)
        if len(children) != 1:
            raise invalid("Not takes exactly one operand")
        only = children[0]
        return lambda obj: not only(obj)
    if spec.HasField("target"):
        return _leaf(spec, spec.target, collection, database)
    path = list(spec.on)
    if len(path) == 1:
        return _leaf(spec, base_pb2.FilterTarget(property=path[0]), collection, database)
    if len(path) == 3:
        inner = base_pb2.FilterTarget(property=path[2])
        target = base_pb2.FilterTarget(
            single_target=base_pb2.FilterReferenceSingleTarget(on=path[0], target=inner)
        )
        return _leaf(spec, target, collection, database)
    raise invalid(f"unsupported filter path {path}")


def _leaf(spec: Any, target: Any, collection: Collection, database: Database) -> Predicate:
    kind = target.WhichOneof("target")
    if kind == "property":
        return _property_predicate(spec, target.property, collection)
    if kind == "count":
        return _count_predicate(spec, target.count.on, collection)
    reference = target.single_target if kind == "single_target" else target.multi_target
    prop = collection.property(reference.on)
    if prop is None or prop["dataType"][0][:1].islower():
        raise invalid(f"'{reference.on}' is not a reference property of {collection.name}")
    target_class = reference.target_collection if kind == "multi_target" else prop["dataType"][0]
    target_collection = database.get(target_class)
    inner = _leaf(spec, reference.target, target_collection, database)
    on = reference.on

    def follow(obj: dict[str, Any]) -> bool:
        for ref in obj["properties"].get(on) or ():
            ref_class, uuid = parse_beacon(ref["beacon"])
            if ref_class is not None and ref_class != target_collection.name:
                continue
            found = target_collection.objects.get(uuid)
            if found is not None and inner(found):
                return True
        return False

    return follow


def _count_predicate(spec: Any, on: str, collection: Collection) -> Predicate:
    if collection.property(on) is None:
        raise invalid(f"no such property '{on}' in class {collection.name}")
    wanted = _filter_values(spec)
    compare = _ordering(spec.operator)

    def count(obj: dict[str, Any]) -> bool:
        have = len(obj["properties"].get(on) or ())
        return any(compare(have, int(value)) for value in wanted)

    return count


def _filter_values(spec: Any) -> list[Any]:
    which = spec.WhichOneof("test_value")
    if which is None:
        raise invalid("a filter needs a value")
    value = getattr(spec, which)
    if which.endswith("_array"):
        return list(value.values)
    if which == "value_geo":
        raise invalid("geo range filters are not supported by the sandbox")
    return [value]


def _ordering(operator: int) -> Callable[[Any, Any], bool]:
    table: dict[int, Callable[[Any, Any], bool]] = {
        _Op.OPERATOR_EQUAL: lambda a, b: a == b,
        _Op.OPERATOR_NOT_EQUAL: lambda a, b: a != b,
        _Op.OPERATOR_GREATER_THAN: lambda a, b: a > b,
        _Op.OPERATOR_GREATER_THAN_EQUAL: lambda a, b: a >= b,
        _Op.OPERATOR_LESS_THAN: lambda a, b: a < b,
        _Op.OPERATOR_LESS_THAN_EQUAL: lambda a, b: a <= b,
    }
    if operator not in table:
        raise invalid(f"operator {_Op.Name(operator)} needs a different value type")
    return table[operator]


def _property_predicate(spec: Any, name: str, collection: Collection) -> Predicate:
    operator = spec.operator
    length = name.startswith("len(") and name.endswith(")")
    if length:
        name = name[4:-1]
    if name == "_id":
        read: Callable[[dict[str, Any]], Any] = lambda obj: obj["id"]  # noqa: E731
        data_type, tokenization = "uuid", "field"
    elif name in _META_TIMES:
        key = _META_TIMES[name]
        read = lambda obj: obj[key]  # noqa: E731
        data_type, tokenization = "timestamp", "field"
    else:
        prop = collection.property(name)
        if prop is None:
            raise invalid(f"no such prop with name '{name}' found in class '{collection.name}'")
        data_type = prop["dataType"][0]
        tokenization = prop.get("tokenization", "field")
        read = lambda obj: obj["properties"].get(name)  # noqa: E731
    if operator == _Op.OPERATOR_IS_NULL:
        wanted_null = bool(spec.value_boolean)
        return lambda obj: (read(obj) in (None, [])) == wanted_null
    if length:
        compare_length = _ordering(operator)
        limits = [int(value) for value in _filter_values(spec)]
        return lambda obj: compare_length(len(read(obj) or ()), limits[0])
    element = data_type.removesuffix("[]")
    wanted = [_as_comparable(value, element) for value in _filter_values(spec)]
    if element == "text" and tokenization != "field":
        if tokenization == "word" and operator == _Op.OPERATOR_EQUAL:
            _refuse_stopwords_only(wanted, collection)
        return _text_predicate(operator, wanted, read, tokenization)
    matcher = _value_matcher(operator, wanted)

    def check(obj: dict[str, Any]) -> bool:
        value = read(obj)
        if value is None:
            return bool(operator == _Op.OPERATOR_NOT_EQUAL)
        items = value if isinstance(value, list) else [value]
        return matcher([_as_comparable(item, element) for item in items])

    return check


def _refuse_stopwords_only(wanted: list[Any], collection: Collection) -> None:
    """weaviate-server drops stopwords from a word-tokenized Equal's terms and refuses one
    left with none (a search and an aggregate fail alike; gRPC UNKNOWN)."""
    stopwords = collection_stopwords(collection.schema)
    for value in wanted:
        terms = tokenize(str(value), "word")
        if terms and all(term in stopwords for term in terms):
            raise WeaviateError(
                500,
                "invalid search term, only stopwords provided. "
                "Stopwords can be configured in class.invertedIndexConfig.stopwords",
            )


def _as_comparable(value: Any, element: str) -> Any:
    try:
        if element == "date":
            return parse_date(value) if isinstance(value, str) else value
        if element == "timestamp":
            if isinstance(value, str) and not value.isdigit():
                return int(parse_date(value).timestamp() * 1000)
            return int(value)
        if element == "uuid":
            return str(value).lower()
        if element in ("int", "number") and isinstance(value, int | float):
            return float(value)
    except ValueError as error:
        raise invalid(f"value {value!r} does not fit a {element} property: {error}") from None
    return value


def _value_matcher(operator: int, wanted: list[Any]) -> Callable[[list[Any]], bool]:
    if operator == _Op.OPERATOR_CONTAINS_ANY:
        return lambda items: any(item in wanted for item in items)
    if operator == _Op.OPERATOR_CONTAINS_ALL:
        return lambda items: all(value in items for value in wanted)
    if operator == _Op.OPERATOR_CONTAINS_NONE:
        return lambda items: not any(item in wanted for item in items)
    if operator == _Op.OPERATOR_LIKE:
        patterns = [_like(str(value)) for value in wanted]
        return lambda items: any(p.match(str(item)) for p in patterns for item in items)
    if operator == _Op.OPERATOR_NOT_EQUAL:
        return lambda items: wanted[0] not in items
    compare = _ordering(operator)
    target = wanted[0]

    def ordered(items: list[Any]) -> bool:
        try:
            return any(compare(item, target) for item in items)
        except TypeError:
            raise invalid(f"cannot compare {items!r} with {target!r}") from None

    return ordered


def _like(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern.replace("[", "[[]")), re.IGNORECASE)


def _text_predicate(
    operator: int, wanted: list[Any], read: Callable[[dict[str, Any]], Any], tokenization: str
) -> Predicate:
    def tokens_of(value: Any) -> set[str]:
        items: Iterable[str] = value if isinstance(value, list) else [value]
        return {token for item in items for token in tokenize(item, tokenization)}

    if operator == _Op.OPERATOR_LIKE:
        patterns = [_like(value) for value in wanted]
        return lambda obj: any(
            pattern.match(token) for pattern in patterns for token in tokens_of(read(obj) or [])
        )
    queries = [set(tokenize(value, tokenization)) for value in wanted]
    if operator in (_Op.OPERATOR_EQUAL, _Op.OPERATOR_NOT_EQUAL):
        negate = operator == _Op.OPERATOR_NOT_EQUAL
        return lambda obj: (queries[0] <= tokens_of(read(obj) or [])) != negate
    if operator == _Op.OPERATOR_CONTAINS_ANY:
        return lambda obj: any(query & tokens_of(read(obj) or []) for query in queries)
    if operator == _Op.OPERATOR_CONTAINS_ALL:
        return lambda obj: all(query <= tokens_of(read(obj) or []) for query in queries)
    if operator == _Op.OPERATOR_CONTAINS_NONE:
        return lambda obj: not any(query & tokens_of(read(obj) or []) for query in queries)
    compare = _ordering(operator)
    return lambda obj: any(compare(item, wanted[0]) for item in _listed(read(obj)))


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
