"""BM25 and near-vector ranking for the sandbox Weaviate, over the objects a filter lets through.

BM25 follows Weaviate's BM25F shape: per-property term frequencies and length normalisation
(k1 and b from the class's invertedIndexConfig, 1.2 and 0.75 by default), idf
log(1 + (N - n + 0.5) / (n + 0.5)) per property, property boosts (`name^2`), the class's
stopwords dropped from the query, OR by default (AND and minimum-match on request). Only
objects with a positive score are returned, best first; ties keep insertion order.

Near-vector is an exact (flat) scan with the class's distance metric (cosine by default):
distances ascending, objects without the target vector skipped, an optional maximum distance.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import mul
from typing import Any, Final

from datamigration_sandbox.weaviate.api_errors import WeaviateError

# Weaviate's "en" stopword preset (adapters/repos/db/inverted/stopwords).
_EN_PRESET: Final = (
    "a an and are as at be but by for if in into is it no not of on or such that the their "
    "then there these they this to was will with"
)
EN_STOPWORDS: Final = frozenset(_EN_PRESET.split(" "))
_WORD: Final = re.compile(r"[^\W_]+")  # word tokenization: runs of letters and digits
_TEXT_TYPES: Final = frozenset({"text", "text[]"})

Obj = dict[str, Any]


@dataclass(frozen=True)
class Hit:
    obj: Obj
    score: float | None = None
    distance: float | None = None


def tokenize(text: str, tokenization: str) -> list[str]:
    """The terms Weaviate indexes for one text value."""
    if tokenization == "word":
        return [token.lower() for token in _WORD.findall(text)]
    if tokenization == "lowercase":
        return text.lower().split()
    if tokenization == "whitespace":
        return text.split()
    if tokenization == "field":
        stripped = text.strip()
        return [stripped] if stripped else []
    raise WeaviateError(422, f"the sandbox Weaviate does not support {tokenization} tokenization")


def collection_stopwords(schema: Mapping[str, Any]) -> frozenset[str]:
    config = (schema.get("invertedIndexConfig") or {}).get("stopwords") or {}
    words = set(EN_STOPWORDS if config.get("preset", "en") == "en" else ())
    words |= {w.lower() for w in config.get("additions") or ()}
    words -= {w.lower() for w in config.get("removals") or ()}
    return frozenset(words)


def _bm25_parameters(schema: Mapping[str, Any]) -> tuple[float, float]:
    config = (schema.get("invertedIndexConfig") or {}).get("bm25") or {}
    return float(config.get("k1", 1.2)), float(config.get("b", 0.75))


def _searched_properties(
    properties: Sequence[Mapping[str, Any]], requested: Sequence[str]
) -> list[tuple[Mapping[str, Any], float]]:
    by_name = {p["name"]: p for p in properties}
    if not requested:
        return [
            (p, 1.0)
            for p in properties
            if p["dataType"][0] in _TEXT_TYPES and p.get("indexSearchable", True)
        ]
    chosen = []
    for item in requested:
        name, _, boost = item.partition("^")
        prop = by_name.get(name)
        if prop is None:
            raise WeaviateError(422, f"property '{name}' not found in the class")
        if prop["dataType"][0] not in _TEXT_TYPES or not prop.get("indexSearchable", True):
            raise WeaviateError(
                422, f"property '{name}' is not searchable: BM25 needs a searchable text property"
            )
        try:
            weight = float(boost) if boost else 1.0
        except ValueError:
            raise WeaviateError(422, f"invalid boost in {item!r}") from None
        chosen.append((prop, weight))
    return chosen


def _terms_of(value: Any, tokenization: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [term for item in value for term in tokenize(str(item), tokenization)]
    return tokenize(str(value), tokenization)


def bm25(
    schema: Mapping[str, Any],
    candidates: Iterable[Obj],
    query: str,
    requested_properties: Sequence[str] = (),
    *,
    operator: str = "or",
    minimum_match: int = 0,
    corpus: Iterable[Obj] | None = None,
) -> list[Hit]:
    """`candidates` ranked by BM25 score for `query`, best first, score > 0 only.

    Document frequencies and average lengths come from `corpus` (the whole collection, as
    Weaviate's inverted index holds them; default: the candidates), so a filter narrows the
    results without changing their scores.
    """
    k1, b = _bm25_parameters(schema)
    searched = _searched_properties(schema["properties"], requested_properties)
    stopwords = collection_stopwords(schema)
    # the query is tokenized once per tokenization in use; AND and minimum-match count the
    # terms of one tokenization (a field-tokenized property sees the query as one term)
    query_terms: dict[str, frozenset[str]] = {}
    for prop, _ in searched:
        tokenization = prop.get("tokenization") or "word"
        if tokenization not in query_terms:
            terms = tokenize(query, tokenization)
            query_terms[tokenization] = frozenset(t for t in terms if t not in stopwords)
    wanted = frozenset().union(*query_terms.values())
    objects = list(candidates)
    if not wanted or not objects:
        return []
    everything = objects if corpus is None else list(corpus)
    scores = [0.0] * len(objects)
    matched: list[set[str]] = [set() for _ in objects]
    for prop, boost in searched:
        tokenization = prop.get("tokenization") or "word"
        name = prop["name"]
        total_length = 0
        frequency: dict[str, int] = dict.fromkeys(wanted, 0)
        for obj in everything:
            terms = _terms_of(obj["properties"].get(name), tokenization)
            total_length += len(terms)
            for term in wanted.intersection(terms):
                frequency[term] += 1
        if total_length == 0:
            continue
        population = len(everything)
        average = total_length / population
        for index, obj in enumerate(objects):
            terms = _terms_of(obj["properties"].get(name), tokenization)
            norm = k1 * (1 - b + b * len(terms) / average)
            for term in wanted.intersection(terms):
                tf = terms.count(term)
                n = frequency[term]
                idf = math.log(1 + (population - n + 0.5) / (n + 0.5))
                scores[index] += boost * idf * tf * (k1 + 1) / (tf + norm)
                matched[index].add(term)

    def enough(found: set[str]) -> bool:
        for terms in query_terms.values():
            needed = len(terms) if operator == "and" else max(minimum_match, 1)
            if terms and len(found & terms) >= min(needed, len(terms)):
                return True
        return False

    hits = [
        Hit(obj, score=scores[i])
        for i, obj in enumerate(objects)
        if scores[i] > 0 and enough(matched[i])
    ]
    hits.sort(key=lambda hit: -(hit.score or 0.0))  # stable: ties keep insertion order
    return hits


def unpack_vector(data: bytes) -> list[float]:
    if len(data) % 4:
        raise WeaviateError(422, "vector bytes are not a whole number of float32 values")
    return list(struct.unpack(f"<{len(data) // 4}f", data))


def _metric(schema: Mapping[str, Any], target: str | None) -> str:
    if target is None:
        config = schema.get("vectorIndexConfig") or {}
    else:
        named = (schema.get("vectorConfig") or {}).get(target)
        if named is None:
            raise WeaviateError(422, f"target vector {target!r} is not configured for the class")
        config = named.get("vectorIndexConfig") or {}
    metric = str(config.get("distance", "cosine"))
    if metric not in ("cosine", "dot", "l2-squared", "manhattan", "hamming"):
        raise WeaviateError(422, f"the sandbox Weaviate does not support distance {metric}")
    return metric


def distance(metric: str, a: Sequence[float], b: Sequence[float]) -> float:
    # map(mul) and hypot run in C: several times faster than generator expressions
    if metric == "cosine":
        norms = math.hypot(*a) * math.hypot(*b)
        return 1.0 if norms == 0 else 1.0 - float(sum(map(mul, a, b))) / norms
    if metric == "dot":
        return -float(sum(map(mul, a, b)))
    if metric == "l2-squared":
        return math.dist(a, b) ** 2
    if metric == "manhattan":
        return sum(abs(x - y) for x, y in zip(a, b, strict=True))
    return float(sum(1 for x, y in zip(a, b, strict=True) if x != y))


def near_vector(
    schema: Mapping[str, Any],
    candidates: Iterable[Obj],
    vector: Sequence[float],
    *,
    target: str | None = None,
    max_distance: float | None = None,
) -> list[Hit]:
    """`candidates` by ascending distance to `vector` (an exact scan of the target vector)."""
    metric = _metric(schema, target)
    if not vector:
        raise WeaviateError(422, "near vector: the query vector is empty")
    hits = []
    for obj in candidates:
        if target is None:
            stored = obj["vector"]
        else:
            named = obj["vectors"].get(target)
            stored = None if named is None or named[1] else named[0]
        if stored is None:
            continue
        values = unpack_vector(stored)
        if len(values) != len(vector):
            raise WeaviateError(
                422,
                f"vector search: knn search: distance between entrypoint and query node: "
                f"vector lengths don't match: {len(values)} vs {len(vector)}",
            )
        found = distance(metric, vector, values)
        if max_distance is None or found <= max_distance:
            hits.append(Hit(obj, distance=found))
    hits.sort(key=lambda hit: hit.distance or 0.0)
    return hits


def ranked(
    request: Any,
    schema: Mapping[str, Any],
    candidates: Iterable[Obj],
    corpus: Iterable[Obj] | None = None,
) -> list[Hit] | None:
    """The hits of a gRPC SearchRequest's bm25_search or near_vector; None for neither.
    `corpus` is the whole collection when `candidates` are the objects a filter matched."""
    if request.HasField("bm25_search"):
        query = request.bm25_search
        operator, minimum = "or", 0
        if query.HasField("search_operator"):
            options = query.search_operator
            operator = "and" if options.operator == options.OPERATOR_AND else "or"
            minimum = options.minimum_or_tokens_match
        return bm25(
            schema,
            candidates,
            query.query,
            list(query.properties),
            operator=operator,
            minimum_match=minimum,
            corpus=corpus,
        )
    if request.HasField("near_vector"):
        near = request.near_vector
        target, vector = _query_vector(near)
        max_distance = near.distance if near.HasField("distance") else None
        if near.HasField("certainty"):
            max_distance = 2 * (1 - near.certainty)  # certainty is defined for cosine only
        return near_vector(schema, candidates, vector, target=target, max_distance=max_distance)
    return None


def _query_vector(near: Any) -> tuple[str | None, list[float]]:
    targets = list(near.target_vectors) or list(near.targets.target_vectors)
    if len(set(targets)) > 1:
        raise WeaviateError(422, "the sandbox Weaviate searches one target vector at a time")
    target = targets[0] if targets else None
    if near.vector_bytes:
        return target, unpack_vector(near.vector_bytes)
    if len(near.vector):
        return target, list(near.vector)
    for item in near.vectors:
        return target, unpack_vector(item.vector_bytes)
    for item in near.vector_for_targets:
        if item.vector_bytes:
            return item.name or target, unpack_vector(item.vector_bytes)
        for vector in item.vectors:
            return item.name or target, unpack_vector(vector.vector_bytes)
    raise WeaviateError(422, "near vector: no query vector given")
