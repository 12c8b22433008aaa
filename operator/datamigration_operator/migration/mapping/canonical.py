"""Canonical content hashes of migration objects (pure): equal objects, equal hashes.

Encoding: the properties, sorted by name, in marshal format version 2 (typed: 1, 1.0, True,
"1" and b"1" all differ, as do a list and a tuple; version 2 has no back-references, so equal
values encode the same whatever their identity); a value marshal cannot write sends the whole
dict to the fallback, 0xFF and JSON with sorted keys (bytes as {"$b": base64}, others by
repr). Then NUL, the references sorted by name (name, "=", a 4-byte count, the 16-byte ids),
NUL, then the vector's float32 bytes (as Weaviate stores vectors). Both property encodings are
self-delimiting and start differently, so no two objects share bytes. A NULL and an absent
property encode the same. The object id is not part of the hash: validation pairs objects by id
first. blake2b with a 16-byte digest. Hashes are only ever compared within one run (the same
Python), never stored.
"""

from __future__ import annotations

import base64
import json
import marshal
from collections.abc import Mapping, Sequence
from hashlib import blake2b
from typing import Final

from datamigration_operator.migration.mapping.objects import MigrationObject

VECTOR_FIELD: Final = "<vector>"


def _special(value: object) -> object:
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode("ascii")}
    return {"$r": f"{type(value).__name__}:{value!r}"}


# ensure_ascii=False keeps the C encoder's fast path; NUL and control characters are escaped.
_ENCODER: Final = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_special
)
_encode = _ENCODER.encode
# The C encoder itself, minus JSONEncoder.encode's per-call wrapper (the hot path of validation);
# same output as _encode for property dicts. Pure-Python builds fall back to _encode.
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_c_encode = (
    None
    if _c_make_encoder is None
    else _c_make_encoder(
        None, _special, json.encoder.encode_basestring, None, ":", ",", True, False, True
    )
)


def canonical_bytes(obj: MigrationObject) -> bytes:
    references = obj.references
    return encode_canonical(
        obj.properties,
        {name: [target.bytes for target in targets] for name, targets in references.items()}
        if references
        else None,
        obj.vector,
    )


def encode_canonical(
    properties: dict[str, object],
    references: Mapping[str, Sequence[bytes]] | None,
    vector: bytes | None,
) -> bytes:
    """canonical_bytes from the parts of an object, the references as 16-byte ids: what the
    fast paths (straight from decoded protobuf values) hash without building the object."""
    present = {name: properties[name] for name in sorted(properties)}
    if None in present.values():
        present = {k: v for k, v in present.items() if v is not None}
    return encode_present(present, references, vector)


def encode_present(
    properties: dict[str, object],
    references: Mapping[str, Sequence[bytes]] | None,
    vector: bytes | None,
) -> bytes:
    """encode_canonical of properties that hold no None and were inserted in name order: what
    the fast paths build, which spares the sort (property tests hold them equal)."""
    try:
        encoded = marshal.dumps(properties, 2) + b"\x00"
    except ValueError:  # a type marshal cannot write, e.g. a kept-as-is value of a bad read
        text = _encode(properties) if _c_encode is None else "".join(_c_encode(properties, 0))
        encoded = b"\xff" + text.encode("utf-8", "surrogatepass") + b"\x00"
    if references:
        # name "=" count(4 bytes) then 16-byte ids: fixed sizes, so no value can fake a boundary.
        items = references.items() if len(references) == 1 else sorted(references.items())
        for name, targets in items:
            if targets:
                encoded += name.encode() + b"=" + len(targets).to_bytes(4) + b"".join(targets)
    return encoded + (b"\x00-" if vector is None else b"\x00v" + vector)


def content_hash(obj: MigrationObject) -> bytes:
    return blake2b(canonical_bytes(obj), digest_size=16).digest()


def hash_canonical(
    properties: dict[str, object],
    references: Mapping[str, Sequence[bytes]] | None,
    vector: bytes | None,
) -> bytes:
    """content_hash from the parts of an object (see encode_canonical)."""
    return blake2b(encode_canonical(properties, references, vector), digest_size=16).digest()


def differing_fields(a: MigrationObject, b: MigrationObject) -> list[str]:
    """Property and reference names whose values differ (and VECTOR_FIELD), sorted."""
    names = set()
    for name in a.properties.keys() | b.properties.keys():
        left, right = a.properties.get(name), b.properties.get(name)
        if (left is None) != (right is None) or _encode(left) != _encode(right):
            names.add(name)
    for name in a.references.keys() | b.references.keys():
        if tuple(a.references.get(name, ())) != tuple(b.references.get(name, ())):
            names.add(name)
    if a.vector != b.vector:
        names.add(VECTOR_FIELD)
    return sorted(names)
