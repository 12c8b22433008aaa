"""Which store answers a read during a gradual switch, and which reads are shadowed.

The share (percent of declared reads answered from Weaviate) comes from the operator through
the app's ConfigMap (`<key>_read_percent`, see dualwrite.modes). Each read is placed by a stable
hash of what it asks (kind, table, arguments) into one of 10 000 buckets: the same read goes to
the same store for as long as the share holds, and a larger share keeps every read a smaller
one sent to Weaviate there. Shadow reads are sampled at random per read (not by the hash), so a
read asked often is compared often and no read is never compared.
"""

from __future__ import annotations

import hashlib
from typing import Final

BUCKETS: Final = 10_000


def bucket(identity: str) -> int:
    digest = hashlib.blake2b(identity.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def answers_from_weaviate(identity: str, read_percent: int) -> bool:
    return bucket(identity) < read_percent * (BUCKETS // 100)


def effective_read_percent(mode: str, share: int) -> int:
    """Percent of declared reads Weaviate answers: all in weaviate_primary, the operator's
    share in dual_write, none otherwise (a stale share never moves reads by itself)."""
    if mode == "weaviate_primary":
        return 100
    return share if mode == "dual_write" else 0


def parse_read_percent(raw: str) -> int:
    """The ConfigMap value: an integer 0..100; ValueError otherwise."""
    text = raw.strip()
    if not text.isdigit() or not 0 <= int(text) <= 100:
        raise ValueError(f"a read share is an integer from 0 to 100, got {raw[:40]!r}")
    return int(text)
