"""docker-compose.yml runs the portal scaled out: two web containers, every task queue consumed
by a worker (sync and tracking by one of their own), exactly one beat, and a broker visibility
timeout longer than any task may run."""

import re
from pathlib import Path

import yaml
from django.conf import settings

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def _services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def _queues(service: dict) -> set[str]:
    command = service["command"]
    return set(command[command.index("-Q") + 1].split(","))


def _default(value: str) -> int:
    """The default of a ``${NAME:-default}`` value."""
    return int(re.fullmatch(r"\$\{\w+:-(\d+)\}", value).group(1))


def test_two_web_containers_serve_the_same_app_on_their_own_ports():
    services = _services()
    web = {name: s for name, s in services.items() if s.get("command", [""])[0] == "gunicorn"}
    assert sorted(web) == ["web-1", "web-2"]
    assert web["web-1"]["command"] == web["web-2"]["command"]
    host_ports = [service["ports"][0].rsplit(":", 1)[0] for service in web.values()]
    assert len(set(host_ports)) == 2
    assert all(s["environment"] == services["worker"]["environment"] for s in web.values())


def test_every_queue_has_exactly_one_kind_of_worker_and_sync_its_own():
    workers = {
        name: _queues(service)
        for name, service in _services().items()
        if service.get("command", [])[3:4] == ["worker"]
    }
    consumed = [queue for queues in workers.values() for queue in queues]
    assert sorted(consumed) == sorted(settings.PORTAL_TASK_QUEUES)
    assert workers["sync-worker"] == {"sync", "tracking"}


def test_one_beat_and_a_visibility_timeout_longer_than_any_task():
    services = _services()
    beats = [s for s in services.values() if s.get("command", [])[3:4] == ["beat"]]
    assert len(beats) == 1 and beats[0]["deploy"]["replicas"] == 1
    timeout = _default(services["worker"]["environment"]["PORTAL_BROKER_VISIBILITY_TIMEOUT"])
    assert timeout > settings.CELERY_TASK_TIME_LIMIT
    assert timeout > settings.PORTAL_SYNC_LEASE_SECONDS
