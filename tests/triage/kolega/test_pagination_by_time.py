"""The newest-first event feed walked in time windows, against the sandbox: every event
once, with `skip` kept small, including a run of events sharing one instant that spans
several pages."""

from datetime import timedelta

import pytest

from sandbox.models import FindingEvent
from sandbox.services.scale import organization_scale_create
from triage.kolega import iter_pages_by_time

pytestmark = pytest.mark.django_db


@pytest.fixture
def scaled(make_kolega, sandbox_transport):
    result = organization_scale_create(repositories=2, findings=200, seed=7)
    events = FindingEvent.objects.filter(organization=result.organization).order_by(
        "-event_timestamp", "-sequence"
    )
    # Sixty events in the middle of the feed share one instant: three pages of twenty.
    middle = list(events.values_list("sequence", flat=True)[100:160])
    instant = events.get(sequence=middle[0]).event_timestamp
    FindingEvent.objects.filter(sequence__in=middle).update(event_timestamp=instant)
    kolega = make_kolega(api_key=result.api_key, transport=sandbox_transport)
    return kolega, result.organization


def test_every_event_is_walked_once_with_small_skips(scaled):
    kolega, organization = scaled
    calls = []

    def list_events(**params):
        calls.append(params)
        return kolega.list_finding_events(**params)

    walked = [
        event.id
        for page in iter_pages_by_time(
            list_events, time_of=lambda event: event.event_timestamp, page_size=20, window_pages=2
        )
        for event in page.items
    ]

    expected = [
        str(pk)
        for pk in FindingEvent.objects.filter(organization=organization)
        .order_by("-event_timestamp", "-sequence")
        .values_list("id", flat=True)
    ]
    assert len(expected) > 200
    assert walked == expected
    # Restarted windows, and no request skipped further than two pages plus the tie run.
    assert sum(1 for call in calls if call["end"] is not None) > 5
    assert max(call["skip"] for call in calls) <= 40 + 60


def test_a_window_end_keeps_newer_events_out(scaled):
    kolega, organization = scaled
    newest = FindingEvent.objects.filter(organization=organization).latest("event_timestamp")
    end = newest.event_timestamp - timedelta(days=1)

    walked = [
        event
        for page in iter_pages_by_time(
            kolega.list_finding_events,
            time_of=lambda event: event.event_timestamp,
            page_size=50,
            window_pages=1,
            end=end,
        )
        for event in page.items
    ]

    assert walked
    assert all(event.event_timestamp <= end for event in walked)
    assert (
        len({event.id for event in walked})
        == len(walked)
        == (
            FindingEvent.objects.filter(organization=organization, event_timestamp__lte=end).count()
        )
    )
