"""``novictl webhooks test``: a signed test event to a real receiver, the answer shown, exit 1 unless 2xx."""

from __future__ import annotations

import time

import pytest

from novictl.core.webhooks import verify_signature
from tests.fixtures.lifecycle import CliRunner
from tests.fixtures.webhook_receiver import WebhookReceiver


def test_webhooks_test_sends_a_signed_event(
    novictl_cli: CliRunner, webhook_receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", "s3cret")
    result = novictl_cli("webhooks", "test", "--url", webhook_receiver.url)
    assert result.code == 0, result.err
    assert "HTTP 200" in result.out
    assert "signed" in result.out
    assert '{"ok": true}' in result.out
    assert "/hook" not in result.out  # the URL's path may be its secret: masked
    (request,) = webhook_receiver.requests
    assert request.headers["x-novictl-event"] == "webhook.test"
    assert request.json()["type"] == "webhook.test"
    assert verify_signature("s3cret", request.headers["x-novictl-signature"], request.body, now=time.time())
    assert not verify_signature("nope", request.headers["x-novictl-signature"], request.body, now=time.time())


def test_webhooks_test_reports_a_failure_and_exits_1(
    novictl_cli: CliRunner, webhook_receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_URL", webhook_receiver.url)
    webhook_receiver.script(500)
    result = novictl_cli("webhooks", "test", "--json")
    assert result.code == 1
    view = result.json()
    assert view["ok"] is False
    assert view["statusCode"] == 500
    assert view["signed"] is False
    assert "scripted failure" in view["bodyExcerpt"]
    assert view["deliveryId"] == webhook_receiver.requests[0].delivery_id


def test_webhooks_test_needs_a_url(novictl_cli: CliRunner) -> None:
    result = novictl_cli("webhooks", "test")
    assert result.code == 2
    assert "--url" in result.err


def test_webhooks_status_on_an_empty_outbox(novictl_cli: CliRunner) -> None:
    view = novictl_cli("webhooks", "status", "--json").json()
    assert view == {
        "pending": 0, "delivered": 0, "failed": 0, "dropped": 0, "lastError": None, "lastErrorAt": None,
        "recent": [],
    }  # fmt: skip
