"""Stands in for `dmctl job copy|sync|validate` in Job containers (first on their PATH).

It does what the real Job does before any data moves: read the JobConfig, open the SQLite file
and check that every mapped table exists (exit NON_RETRYABLE_EXIT_CODE naming the table if not).
Then it follows `standin.json` beside the SQLite file: {"<kind>": "sleep"} runs until killed,
anything else succeeds. Standard library only: it starts fast.
"""

import json
import os
import sqlite3
import sys
import time
from pathlib import Path

CONFIG_ENV = "DATAMIGRATION_JOB_CONFIG"
NON_RETRYABLE_EXIT_CODE = 42


def main() -> int:
    kind = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "job" else "?"
    config = json.loads(os.environ[CONFIG_ENV])
    database = Path(config["source"]["path"])
    if not database.is_file():
        print(f"SQLite file {database} not found", file=sys.stderr)
        return NON_RETRYABLE_EXIT_CODE
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    for index, mapping in enumerate(config["collections"]):
        if mapping["table"] not in tables:
            print(
                f"unknown table {mapping['table']} (spec.collections[{index}].table)",
                file=sys.stderr,
            )
            return NON_RETRYABLE_EXIT_CODE
    behaviour_file = database.parent / "standin.json"
    behaviour = json.loads(behaviour_file.read_text()) if behaviour_file.exists() else {}
    if behaviour.get(kind) == "sleep":
        time.sleep(3600)
    print(f"{kind} done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
