"""Container paths under a mountPath are rewritten to the local folders backing them."""

from __future__ import annotations

import json
from pathlib import Path

from datamigration_sandbox.jobs.mount_paths import Mount, MountTable

TABLE = MountTable(
    [
        Mount("/data", Path("/srv/pvcs/ns/source")),
        Mount("/data/reports/", Path("/srv/pods/p/volumes/reports")),
        Mount("/etc/app/mode", Path("/srv/pods/p/volumes/cfg/migration_mode")),
    ]
)


def test_exact_and_nested_paths_use_the_longest_mount() -> None:
    assert TABLE.rewrite("/data") == "/srv/pvcs/ns/source"
    assert TABLE.rewrite("/data/app.db") == "/srv/pvcs/ns/source/app.db"
    assert TABLE.rewrite("/data/reports/r.json") == "/srv/pods/p/volumes/reports/r.json"
    assert TABLE.rewrite("/etc/app/mode") == "/srv/pods/p/volumes/cfg/migration_mode"


def test_only_whole_path_segments_match() -> None:
    assert TABLE.rewrite("/database/x") == "/database/x"
    assert TABLE.rewrite("relative/data/x") == "relative/data/x"


def test_flag_values_are_rewritten() -> None:
    assert TABLE.rewrite("--sqlite=/data/app.db") == "--sqlite=/srv/pvcs/ns/source/app.db"
    assert TABLE.rewrite("--name=other") == "--name=other"


def test_strings_inside_json_documents_are_rewritten() -> None:
    config = json.dumps({"source": {"path": "/data/app.db"}, "tables": ["/data", "users"], "n": 3})

    rewritten = json.loads(TABLE.rewrite(config))

    assert rewritten == {
        "source": {"path": "/srv/pvcs/ns/source/app.db"},
        "tables": ["/srv/pvcs/ns/source", "users"],
        "n": 3,
    }


def test_json_without_paths_and_broken_json_are_untouched() -> None:
    untouched = '{"a":  1}'
    assert TABLE.rewrite(untouched) == untouched
    assert TABLE.rewrite("{not json /data") == "{not json /data"


def test_local_path_is_none_outside_mounts() -> None:
    assert TABLE.local_path("/tmp/x") is None
