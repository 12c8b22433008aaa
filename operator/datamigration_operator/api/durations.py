"""Go-style durations ("90s", "1h30m") as used in Kubernetes specs."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Final

from pydantic import Field

DURATION_PATTERN: Final = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}

Duration = Annotated[str, Field(pattern=DURATION_PATTERN, max_length=32)]


def parse_duration(text: str) -> timedelta:
    """ "1h30m" -> 1:30:00. Raises ValueError for anything DURATION_PATTERN rejects."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"not a duration like 90s, 5m or 1h30m: {text!r}")
    seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(text))
    return timedelta(seconds=seconds)
