"""Kubernetes resource quantities (`10Gi`, `500M`, `1.5Ti`) as bytes, and back as `<n>Mi`."""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Final

_SUFFIXES: Final = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}
_QUANTITY: Final = re.compile(r"^(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<suffix>[a-zA-Z]*)$")
MEBIBYTE: Final = 2**20


def quantity_bytes(text: str) -> int | None:
    """Bytes of a storage quantity, rounded up; None for what is not one (decimal
    exponents such as `1e3` included: storage is never written so)."""
    found = _QUANTITY.match(text.strip())
    if found is None or found["suffix"] not in _SUFFIXES:
        return None
    try:
        number = Decimal(found["number"])
    except InvalidOperation:
        return None
    return math.ceil(number * _SUFFIXES[found["suffix"]])


def mebibytes(size: int) -> str:
    """`size` bytes as a quantity in whole Mi, rounded up."""
    return f"{-(-size // MEBIBYTE)}Mi"
