"""Protobuf wire-format primitives (pure): varints, length prefixes, length-delimited fields.

Shared by the copy's hand-written BatchObjects requests (migration/grpc_objects.py) and the
sandbox Weaviate's Search replies (sandbox/weaviate/wire.py), which both write hot messages as
bytes instead of through the protobuf classes. Neither may import the other.
"""

from __future__ import annotations

from typing import Final

_U64: Final = 2**64 - 1


def varint(value: int) -> bytes:
    if 0 <= value < 0x80:
        return bytes((value,))
    if 0 < value < 0x4000:  # two bytes: the length of most text values
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    value &= _U64  # negative int64: ten bytes of two's complement, as protobuf writes it
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# every one- and two-byte length prefix (< 16 KiB), looked up instead of computed: hot messages
# write several per object
TWO_BYTE_LIMIT: Final = 0x4000
LENGTHS: Final = tuple(varint(n) for n in range(TWO_BYTE_LIMIT))


def length_prefix(size: int) -> bytes:
    return LENGTHS[size] if size < TWO_BYTE_LIMIT else varint(size)


def length_delimited(field_tag: bytes, payload: bytes) -> bytes:
    size = len(payload)
    return field_tag + (LENGTHS[size] if size < TWO_BYTE_LIMIT else varint(size)) + payload
