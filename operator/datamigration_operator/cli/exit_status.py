"""dmctl's exit codes, in one place: the commands use them, `dmctl --help` lists them.

Kept free of imports so the entry point can show them without loading the engine.
"""

from __future__ import annotations

from typing import Final

EXIT_OK: Final = 0
EXIT_RETRYABLE: Final = 1
EXIT_USAGE: Final = 2
EXIT_DIFFERENCES: Final = 3
EXIT_PERMANENT: Final = 42  # the Jobs' NON_RETRYABLE_EXIT_CODE (a test keeps them equal)

EXIT_CODES_HELP: Final = (
    "Exit codes: 0 done; "
    "1 Weaviate unavailable or another failure a retry may fix; "
    "2 usage: a bad option, mapping or --table (a table the database lacks included); "
    "3 validate found more differences than --max-mismatches; "
    "42 permanent: rows or a schema Weaviate refuses, a refused API key, collections another "
    "migration owns (running the same command again cannot help)."
)
