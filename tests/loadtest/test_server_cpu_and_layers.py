"""What the load test's server writes of each request's CPU time, and `make profile`'s
split of a page's time by layer, on real requests through the portal's middleware."""

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import resolve

from loadtest import layers
from loadtest.measures import cpu_records_parse, cpu_summary
from loadtest.profile import breakdown, pages_chosen
from loadtest.server_cpu import CPU_DIR_ENV, UNRESOLVED
from tests.factories import FindingFactory
from triage.models import Role


@pytest.fixture
def cpu_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(CPU_DIR_ENV, str(tmp_path / "server-cpu"))
    middleware = ["loadtest.server_cpu.RequestCpuMiddleware", *settings.MIDDLEWARE]
    with override_settings(MIDDLEWARE=middleware):
        yield tmp_path / "server-cpu"


def test_each_request_is_written_with_its_route_the_clients_name_and_cpu_time(
    cpu_dir, team, member, client_as
):
    client = client_as(member(Role.VIEWER))
    url = f"/t/{team.slug}/findings/"

    assert client.get(url, headers={"X-Load-Name": "findings"}).status_code == 200
    assert client.get("/no-such-page/").status_code == 404

    files = list(cpu_dir.glob("*.tsv"))
    assert len(files) == 1  # one file per process
    records = cpu_records_parse(files[0].read_text().splitlines())
    assert [(r.method, r.route, r.label) for r in records] == [
        ("GET", resolve(url).view_name, "findings"),
        ("GET", UNRESOLVED, ""),
    ]
    assert all(record.cpu_ms > 0 for record in records)
    summary = cpu_summary(records, records[0].at - 1, records[-1].at + 1)
    assert summary["endpoints"]["GET findings"]["requests"] == 1


def test_a_name_cannot_break_the_line_format(cpu_dir, team, member, client_as):
    client = client_as(member(Role.VIEWER))

    client.get(f"/t/{team.slug}/findings/", headers={"X-Load-Name": "a\tb"})

    (record,) = cpu_records_parse(next(cpu_dir.glob("*.tsv")).read_text().splitlines())
    assert record.label == "a b"


def test_a_page_is_split_into_layers_that_add_up_to_its_time(team, member, client_as):
    FindingFactory.create_batch(3, team=team)
    client = client_as(member(Role.VIEWER))
    middleware = [layers.OUTER_MIDDLEWARE, *settings.MIDDLEWARE, layers.INNER_MIDDLEWARE]

    with (
        override_settings(MIDDLEWARE=middleware),
        layers.instrument(),
        CaptureQueriesContext(connection) as captured,
        layers.measuring() as measured,
    ):
        response = client.get(f"/t/{team.slug}/findings/")

    assert response.status_code == 200
    assert len(measured.queries) == len(captured.captured_queries) > 0
    for layer in layers.ORDER:
        assert measured.ms[layer] > 0, layer
    assert measured.total_ms == pytest.approx(sum(measured.ms.values()))
    lines = breakdown([measured], [200])
    assert lines[2].split()[:2] == ["queries", f"({len(measured.queries)})"]
    assert lines[-2].startswith("  total (in Django)")


def test_nothing_is_charged_outside_a_measured_request(team, member, client_as):
    client = client_as(member(Role.VIEWER))
    middleware = [layers.OUTER_MIDDLEWARE, *settings.MIDDLEWARE, layers.INNER_MIDDLEWARE]
    with override_settings(MIDDLEWARE=middleware), layers.instrument():
        assert client.get(f"/t/{team.slug}/findings/").status_code == 200
        with layers.measuring() as measured:
            pass
    assert measured.total_ms == 0
    assert measured.queries == []


PAGES = [
    ("findings", "/t/load/findings/", {}),
    ("findings open, by age", "/t/load/findings/?status=open&sort=age", {}),
    ("finding", "/t/load/findings/1/", {}),
    ("reports 30 days", "/t/load/reports/?period=30", {}),
]


def test_a_page_is_chosen_by_exact_name_by_the_start_of_names_or_by_path():
    assert [name for name, _, _ in pages_chosen(PAGES, "findings", "load")] == ["findings"]
    assert [name for name, _, _ in pages_chosen(PAGES, "report", "load")] == ["reports 30 days"]
    assert [name for name, _, _ in pages_chosen(PAGES, "find", "load")] == [
        "findings",
        "findings open, by age",
        "finding",
    ]
    assert pages_chosen(PAGES, None, "load") == PAGES
    assert pages_chosen(PAGES, "/t/load/findings/?sort=file&hx=1", "load") == [
        ("/t/load/findings/?sort=file&hx=1",) * 2 + ({"HTTP_HX_REQUEST": "true"},)
    ]


def test_an_unknown_page_is_refused_with_the_names_there_are():
    with pytest.raises(SystemExit, match="no page 'dashbord'; the pages are 'findings'"):
        pages_chosen(PAGES, "dashbord", "load")
    with pytest.raises(SystemExit, match="not a page of the load team"):
        pages_chosen(PAGES, "/t/other/findings/", "load")
