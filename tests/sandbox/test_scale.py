"""Scale mode: 100,000 findings and their events in well under a minute."""

import time

import pytest
from django.core.management import call_command
from django.db.models import Count

from sandbox.models import BatchFinding, Finding, FindingEvent, Organization


@pytest.mark.django_db
@pytest.mark.slow
def test_sandbox_scale_creates_100000_findings(capsys, make_client):
    started = time.perf_counter()
    call_command("sandbox_scale", "--repos", "50", "--findings", "100000", "--slug", "bench")
    elapsed = time.perf_counter() - started
    output = capsys.readouterr().out
    print(f"\nsandbox_scale --repos 50 --findings 100000: {elapsed:.1f}s")
    organization = Organization.objects.get(slug="bench")
    assert Finding.objects.filter(organization=organization).count() == 100_000
    assert FindingEvent.objects.filter(organization=organization).count() >= 100_000
    assert BatchFinding.objects.filter(finding__organization=organization).count() == 100_000
    # About 30 s on an idle two-core machine with PostgreSQL; the bound leaves room for a busy CI.
    assert elapsed < 120
    key = output.split("API key: ")[1].split()[0]
    api = make_client(key)
    repositories = api.get("/repositories", params={"limit": 200}).json()
    assert repositories["total"] == 50
    findings = api.get(f"/repositories/{repositories['items'][0]['id']}/findings").json()
    assert findings["total"] == 2000
    assert api.get("/finding-events", params={"limit": 200}).json()["has_next"] is True


@pytest.mark.django_db
def test_scale_fills_the_events_asked_for_oldest_first():
    from sandbox.services.scale import organization_scale_create

    result = organization_scale_create(repositories=3, findings=1200, events=6000, seed=3)

    events = FindingEvent.objects.filter(organization=result.organization)
    assert result.events == events.count() == 6000
    assert Finding.objects.filter(organization=result.organization).count() == 1200
    # Every finding has its own share of the feed, detection first.
    per_finding = events.values("finding").annotate(n=Count("pk")).values_list("n", flat=True)
    assert set(per_finding) == {5}
    assert events.filter(event_type="detected").count() == 1200
    # Sequence numbers follow time, as in a live feed.
    times = list(events.order_by("sequence").values_list("event_timestamp", flat=True))
    assert times == sorted(times)
