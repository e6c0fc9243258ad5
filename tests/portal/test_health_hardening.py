"""/healthz answers anyone: it must stay cheap and say no more than which part is down."""

import logging

import pytest
from django.db import connection
from django.test import Client

from portal import health


@pytest.fixture(autouse=True)
def _fresh_health_checks():
    health.health_checks_forget()
    yield
    health.health_checks_forget()


@pytest.fixture
def broker_connections(monkeypatch):
    from portal.celery import app

    opened = []
    connection_for_write = app.connection_for_write

    def counting(*args, **kwargs):
        opened.append(1)
        return connection_for_write(*args, **kwargs)

    monkeypatch.setattr(app, "connection_for_write", counting)
    return opened


def test_repeated_requests_reuse_one_check_for_a_few_seconds(
    db, settings, monkeypatch, broker_connections
):
    settings.PORTAL_HEALTH_CACHE_SECONDS = 5
    clock = [1000.0]
    monkeypatch.setattr(health, "_clock", lambda: clock[0])
    client = Client()

    for _ in range(20):
        assert client.get("/healthz").status_code == 200
    assert len(broker_connections) == 1

    clock[0] += 4.9
    client.get("/healthz")
    assert len(broker_connections) == 1
    clock[0] += 0.2
    client.get("/healthz")
    assert len(broker_connections) == 2


def test_a_down_broker_is_named_without_its_exception(db, monkeypatch, caplog):
    from portal.celery import app

    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")

    with caplog.at_level(logging.WARNING, logger="portal.health"):
        response = Client().get("/healthz")

    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "database": "ok",
        "broker": "down",
        "down": ["broker"],
    }
    # The cause is for the operator's log, not for whoever asked.
    assert any("broker is down" in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_down_database_is_named_without_its_exception(db, monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("could not connect to server at 10.1.2.3:5432")

    with monkeypatch.context() as patch:
        patch.setattr(connection, "cursor", refuse)
        response = Client().get("/healthz")

    assert response.status_code == 503
    body = response.content.decode()
    assert response.json()["database"] == "down"
    assert "Refused" not in body and "10.1.2.3" not in body
