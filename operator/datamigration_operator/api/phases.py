"""Phases, modes and states, and the phase transitions the CRD admits."""

from __future__ import annotations

from typing import Final, Literal

Phase = Literal["migrate", "dual-write", "validate", "switch", "rollback"]
Mode = Literal["sqlite_only", "dual_write", "weaviate_primary"]
State = Literal["Pending", "Running", "Succeeded", "Failed", "Blocked"]
JobKind = Literal["copy", "sync", "validate", "analyze"]
JobState = Literal["Pending", "Running", "Succeeded", "Failed", "Deleted"]

PHASES: Final[tuple[Phase, ...]] = ("migrate", "dual-write", "validate", "switch", "rollback")
MODES: Final[tuple[Mode, ...]] = ("sqlite_only", "dual_write", "weaviate_primary")
INITIAL_PHASE: Final[Phase] = "migrate"

# Modes in which every write reaches both stores; leaving them ends a dual-write epoch.
DUAL_WRITING_MODES: Final[frozenset[Mode]] = frozenset({"dual_write", "weaviate_primary"})

# Where spec.phase may go next (besides staying put). DESIGN.md: migrate -> dual-write;
# dual-write -> validate; validate -> switch | dual-write; switch -> validate;
# rollback -> migrate | dual-write; any -> rollback.
NEXT_PHASES: Final[dict[Phase, tuple[Phase, ...]]] = {
    "migrate": ("dual-write", "rollback"),
    "dual-write": ("validate", "rollback"),
    "validate": ("switch", "dual-write", "rollback"),
    "switch": ("validate", "rollback"),
    "rollback": ("migrate", "dual-write"),
}


def is_allowed_transition(old: Phase, new: Phase) -> bool:
    return old == new or new in NEXT_PHASES[old]
