"""Secrets never shown: URL passwords, credential query parameters, webhook paths — failing closed."""

from __future__ import annotations

import json

import pytest

from novictl.config import load_settings
from novictl.errors import ConfigError
from novictl.redact import mask_secret, mask_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:hunter2@db:6379/0", "redis://:****@db:6379/0"),
        ("redis://app:hunter2@db:6379/0", "redis://app:****@db:6379/0"),
        (
            "redis://db:6379/0?password=hunter2&ssl_cert_reqs=none",
            "redis://db:6379/0?password=****&ssl_cert_reqs=none",
        ),
        ("redis://db:6379/0", "redis://db:6379/0"),
        ("redis://:hunter2@[bad/0", "redis://****"),
        ("redis://:hunter2@h:notaport/0", "redis://****"),
        ("not a url", "not a url"),
    ],
)
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_mask_url_hides_a_webhook_path_and_query() -> None:
    assert mask_url("https://hooks.slack.com/services/T0/B0/SECRET?x=1", hide_path=True) == (
        "https://hooks.slack.com/****?****"
    )


def test_mask_secret_shows_nothing_of_the_secret() -> None:
    assert mask_secret("short-secret") == "****"
    assert mask_secret("sk_live_0123456789abcdef") == "****"


@pytest.mark.parametrize(
    "url",
    ["redis://h:notaport/0", "redis://h:99999/0", "redis://:pw@[bad/0", "redis://h:6379/abc", "redis://"],
)
def test_malformed_redis_urls_are_config_errors_without_the_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={"REDIS_URL": url, "HOME": "/nonexistent"})
    assert "store.url" in caught.value.message
    assert "env:REDIS_URL" in caught.value.message
    assert "pw@" not in caught.value.message


def test_config_show_hides_webhook_path_and_redis_query_password(cli, monkeypatch) -> None:
    monkeypatch.setenv("WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/TOPSECRETPATH")
    monkeypatch.setenv("REDIS_URL", "redis://db:6379/0?password=TOPSECRETPW")

    text = cli("config", "show")
    as_json = cli("config", "show", "--json")

    for out in (text.out, as_json.out):
        assert "TOPSECRET" not in out
    values = {row["key"]: row["value"] for row in json.loads(as_json.out)["settings"]}
    assert values["webhook.url"] == "https://hooks.slack.com/****"
    assert values["store.url"] == "redis://db:6379/0?password=****"


def test_settings_repr_hides_urls_secrets() -> None:
    settings = load_settings(
        env={"REDIS_URL": "redis://:hunter2@db:6379/0", "WEBHOOK_URL": "https://h.example/SECRETPATH"}
    ).settings
    assert "hunter2" not in repr(settings)
    assert "SECRETPATH" not in repr(settings)
