"""The app's environment: required variables, clear errors, the secret kept secret."""

from __future__ import annotations

import pytest

from chat_app.settings import AppSettings, SettingsError

BASE = {
    "CHAT_DATABASE": "/data/app.db",
    "DATAMIGRATION_NAME": "chat/chat-history",
    "WEAVIATE_HTTP": "weaviate:8080",
    "WEAVIATE_GRPC": "weaviate:50051",
}


def test_defaults_and_parsed_values() -> None:
    settings = AppSettings.from_env({**BASE, "WEAVIATE_API_KEY": "s3cret"})
    assert (settings.host, settings.port) == ("0.0.0.0", 8080)
    assert (settings.migration_namespace, settings.migration_name) == ("chat", "chat-history")
    assert settings.weaviate.grpc.port == 50051
    assert settings.weaviate.tls is False
    assert settings.read_fallback is True
    assert settings.shutdown_delay == 5.0
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"CHAT_DATABASE": ""}, "missing environment variables: CHAT_DATABASE"),
        ({"DATAMIGRATION_NAME": "chat-history"}, "<namespace>/<name>"),
        ({"DATAMIGRATION_NAME": "chat/"}, "<namespace>/<name>"),
        ({"WEAVIATE_HTTP": "weaviate"}, "WEAVIATE_HTTP must be host:port"),
        ({"WEAVIATE_GRPC": "weaviate:99999"}, "WEAVIATE_GRPC must be host:port"),
        ({"CHAT_LISTEN": ":80"}, "CHAT_LISTEN must be host:port"),
        ({"WEAVIATE_TLS": "maybe"}, "WEAVIATE_TLS must be true or false"),
        ({"CHAT_SHUTDOWN_DELAY": "-1"}, "CHAT_SHUTDOWN_DELAY must be seconds"),
        ({"CHAT_SHUTDOWN_DELAY": "soon"}, "CHAT_SHUTDOWN_DELAY must be seconds"),
    ],
)
def test_bad_environment_is_refused_with_the_variable_named(
    change: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message.replace("/", ".")):
        AppSettings.from_env({**BASE, **change})
