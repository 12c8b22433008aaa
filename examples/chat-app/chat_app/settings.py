"""The app's configuration, from the environment as a Deployment sets it.

CHAT_DATABASE        SQLite file (on the PVC the DataMigration names); created if absent
CHAT_LISTEN          host:port to serve on (default 0.0.0.0:8080)
DATAMIGRATION_NAME   <namespace>/<name> of the DataMigration: it seeds the object ids
WEAVIATE_HTTP        host:port of Weaviate's REST endpoint
WEAVIATE_GRPC        host:port of Weaviate's gRPC endpoint
WEAVIATE_TLS         "true" for https/TLS gRPC (default false)
WEAVIATE_API_KEY     from a secretKeyRef; never logged
CHAT_READ_FALLBACK   "false" turns off the SQLite fallback of Weaviate reads
CHAT_SHADOW_READ_PERCENT  percent of reads also run on the other store and compared while
                     Weaviate takes reads (a gradual switch's analysis; default 10)
DATAMIGRATION_MODE_FILE / DATAMIGRATION_MODE   the mode (dualwrite.modes)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, SecretStr, ValidationError

from datamigration_operator.api.job_contract import JobTarget
from datamigration_operator.api.spec import Endpoint


class SettingsError(ValueError):
    """The environment does not describe a runnable app."""


class AppSettings(BaseModel):
    database: Path
    host: str = "0.0.0.0"  # a container serves on every interface
    port: int = 8080
    migration: str
    weaviate: JobTarget
    api_key: SecretStr | None = None
    read_fallback: bool = True
    shadow_read_percent: float = 10.0
    shutdown_delay: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AppSettings:
        env = os.environ if env is None else env
        missing = [
            name
            for name in ("CHAT_DATABASE", "DATAMIGRATION_NAME", "WEAVIATE_HTTP", "WEAVIATE_GRPC")
            if not env.get(name)
        ]
        if missing:
            raise SettingsError(f"missing environment variables: {', '.join(missing)}")
        migration = env["DATAMIGRATION_NAME"]
        if migration.count("/") != 1 or not all(migration.split("/")):
            raise SettingsError(f"DATAMIGRATION_NAME must be <namespace>/<name>, got {migration!r}")
        try:
            host, port = _host_port(env.get("CHAT_LISTEN", "0.0.0.0:8080"), "CHAT_LISTEN")
            return cls(
                database=Path(env["CHAT_DATABASE"]),
                host=host,
                port=port,
                migration=migration,
                weaviate=JobTarget(
                    http=_endpoint(env["WEAVIATE_HTTP"], "WEAVIATE_HTTP"),
                    grpc=_endpoint(env["WEAVIATE_GRPC"], "WEAVIATE_GRPC"),
                    tls=_flag(env.get("WEAVIATE_TLS", "false"), "WEAVIATE_TLS"),
                ),
                api_key=SecretStr(env["WEAVIATE_API_KEY"]) if env.get("WEAVIATE_API_KEY") else None,
                read_fallback=_flag(env.get("CHAT_READ_FALLBACK", "true"), "CHAT_READ_FALLBACK"),
                shutdown_delay=_seconds(env.get("CHAT_SHUTDOWN_DELAY", "5"), "CHAT_SHUTDOWN_DELAY"),
                shadow_read_percent=_percent(env.get("CHAT_SHADOW_READ_PERCENT", "10")),
            )
        except ValidationError as error:
            raise SettingsError(str(error)) from None

    @property
    def migration_namespace(self) -> str:
        return self.migration.split("/")[0]

    @property
    def migration_name(self) -> str:
        return self.migration.split("/")[1]


def _host_port(value: str, variable: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"{variable} must be host:port, got {value!r}")
    return host, int(port)


def _endpoint(value: str, variable: str) -> Endpoint:
    host, port = _host_port(value, variable)
    return Endpoint(host=host, port=port)


def _seconds(value: str, variable: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 300:
        raise SettingsError(f"{variable} must be seconds from 0 to 300, got {value!r}")
    return seconds


def _percent(value: str) -> float:
    try:
        percent = float(value)
    except ValueError:
        percent = -1.0
    if not 0 <= percent <= 100:
        raise SettingsError(f"CHAT_SHADOW_READ_PERCENT must be 0 to 100, got {value!r}")
    return percent


def _flag(value: str, variable: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise SettingsError(f"{variable} must be true or false, got {value!r}")
