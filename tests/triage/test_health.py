import pytest
from django.test import Client

from portal import health


@pytest.fixture(autouse=True)
def _fresh_health_checks():
    health.health_checks_forget()
    yield
    health.health_checks_forget()


def test_healthz_reports_database_and_broker(db):
    response = Client().get("/healthz")

    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["broker"] == "ok"


def test_healthz_answers_503_naming_the_broker_when_it_is_down(db, monkeypatch):
    from portal.celery import app

    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")

    response = Client().get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["broker"].startswith("down")
    assert body["down"] == ["broker"]
    assert body["database"] == "ok"
