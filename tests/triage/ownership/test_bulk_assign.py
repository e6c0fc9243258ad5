"""Assigning a selection of findings from the findings page: to a member, to oneself, back to
the rules' owner; an audit entry per finding; refusals; roles; a bounded number of queries."""

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import FindingFactory, MembershipFactory, RepositoryFactory, UserFactory
from triage.models import AuditEvent, Finding, Role
from triage.services import ownership as services
from triage.services.errors import RoleRequired, ServiceError
from triage.sync.ownership import owners_evaluate

pytestmark = pytest.mark.django_db


@pytest.fixture
def backend(team, admin):
    squad = services.squad_create(team=team, actor=admin, name="backend")
    services.codeowners_import(team=team, actor=admin, text="*.py @backend\n")
    owners_evaluate(team_id=team.pk)
    return squad


@pytest.fixture
def repository(team):
    return RepositoryFactory(team=team, name="payments-api")


@pytest.fixture
def findings(repository):
    return [FindingFactory(repository=repository, file_path=f"src/app{n}.py") for n in range(3)]


def _url(team, name="findings-assign", **kwargs):
    return reverse(name, kwargs={"team_slug": team.slug, **kwargs})


def _owners(findings):
    rows = Finding.objects.filter(pk__in=[f.pk for f in findings]).order_by("pk")
    return [
        (
            row.owner_member.username if row.owner_member else None,
            row.owner_squad.name if row.owner_squad else None,
            row.owner_explicit,
        )
        for row in rows
    ]


def _ids(findings):
    return [finding.pk for finding in findings]


def test_bulk_assignment_records_each_finding_in_the_audit_log_and_its_timeline(
    team, findings, triager, approver, client_as
):
    client = client_as(triager)

    response = client.post(
        _url(team), {"finding": _ids(findings[:2]), "assignee": approver.pk}, follow=True
    )

    assert "Assigned 2 findings to abe." in response.content.decode()
    assert _owners(findings) == [("abe", None, True), ("abe", None, True), (None, None, False)]
    events = AuditEvent.objects.filter(action="finding.assign").order_by("target_id")
    assert [(e.target_id, e.actor, e.details["from"], e.details["to"]) for e in events] == [
        (str(finding.pk), triager, "", "abe") for finding in findings[:2]
    ]
    page = client.get(_url(team, "finding", finding_id=findings[0].pk)).content.decode()
    assert "nobody → abe" in page

    again = client.post(
        _url(team), {"finding": _ids(findings), "assignee": approver.pk}, follow=True
    )

    assert "Assigned 1 finding to abe. 2 already were." in again.content.decode()
    assert AuditEvent.objects.filter(action="finding.assign").count() == 3
    nothing = client.post(
        _url(team), {"finding": _ids(findings), "assignee": approver.pk}, follow=True
    )
    assert "Nothing changed: 3 findings already were assigned to abe." in nothing.content.decode()


def test_all_matching_claims_every_finding_the_filters_match(
    team, repository, findings, triager, client_as
):
    elsewhere = FindingFactory(repository=RepositoryFactory(team=team, name="web"))

    response = client_as(triager).post(
        _url(team),
        {"all_matching": "1", "filter_query": f"repository={repository.pk}", "action": "claim"},
        follow=True,
    )

    assert "Assigned 3 findings to you." in response.content.decode()
    assert _owners(findings) == [("tess", None, True)] * 3
    assert _owners([elsewhere]) == [(None, None, False)]
    # The page the answer leads to keeps the filters the selection was made with.
    assert response.redirect_chain[-1][0].endswith(f"?repository={repository.pk}")


def test_an_explicit_assignment_survives_the_rules_running_again(
    team, admin, findings, backend, triager, approver
):
    assert _owners(findings) == [(None, "backend", False)] * 3

    services.findings_assign(
        team=team, actor=triager, finding_ids=_ids(findings[:1]), assignee_id=approver.pk
    )
    services.codeowners_import(team=team, actor=admin, text="src/ @tess\n")
    owners_evaluate(team_id=team.pk)

    assert _owners(findings) == [
        ("abe", "backend", True),
        ("tess", None, False),
        ("tess", None, False),
    ]


def test_unassigning_gives_the_findings_back_to_their_rules_owner(
    team, findings, backend, triager, approver, client_as
):
    client = client_as(triager)
    client.post(_url(team), {"finding": _ids(findings[:2]), "assignee": approver.pk})

    response = client.post(
        _url(team), {"finding": _ids(findings), "action": "unassign"}, follow=True
    )

    body = response.content.decode()
    assert "Unassigned 2 findings: the ownership rules decide their owner again." in body
    assert "1 was not assigned by hand." in body
    assert _owners(findings) == [(None, "backend", False)] * 3
    unassigned = AuditEvent.objects.filter(action="finding.unassign").order_by("target_id")
    assert [(e.target_id, e.details["from"]) for e in unassigned] == [
        (str(finding.pk), "abe") for finding in findings[:2]
    ]
    page = client.get(_url(team, "finding", finding_id=findings[0].pk)).content.decode()
    assert "abe → the rules&#x27; owner" in page or "abe → the rules' owner" in page


def test_outsiders_viewers_and_forged_ids_are_refused_and_nothing_changes(
    team, other_team, findings, triager, member, client_as
):
    viewer = member(Role.VIEWER, username="vic")
    outsider = MembershipFactory(team=other_team, role=Role.ADMIN, user=UserFactory()).user
    theirs = FindingFactory(repository=RepositoryFactory(team=other_team))
    client = client_as(triager)

    def post(data):
        return client.post(_url(team), data, follow=True).content.decode()

    assert "Only a member of Blue Team can own a finding" in post(
        {"finding": _ids(findings), "assignee": outsider.pk}
    )
    assert "vic is a Viewer in Blue Team; an owner must be at least a Triager." in post(
        {"finding": _ids(findings), "assignee": viewer.pk}
    )
    assert "Choose whom to assign the findings to." in post(
        {"finding": _ids(findings), "assignee": "2" * 30}
    )
    assert "Choose whom to assign the findings to." in post({"finding": _ids(findings)})
    assert "Select at least one finding." in post({"finding": [theirs.pk], "action": "claim"})
    assert "Select findings, or all findings matching the filters." in post({"action": "claim"})
    # Under the other team's slug, a member of this team reaches nothing.
    elsewhere = client.post(_url(other_team), {"finding": [theirs.pk], "action": "claim"})
    assert elsewhere.status_code == 404

    assert _owners([*findings, theirs]) == [(None, None, False)] * 4
    assert not AuditEvent.objects.filter(action__startswith="finding.").exists()


def test_a_viewer_cannot_assign_nor_is_offered_to(team, findings, member, client_as):
    viewer = member(Role.VIEWER, username="vic")
    client = client_as(viewer)

    response = client.post(_url(team), {"finding": _ids(findings), "action": "claim"})

    assert response.status_code == 403
    assert _owners(findings) == [(None, None, False)] * 3
    listing = client.get(_url(team, "findings")).content.decode()
    assert "findings-assign" not in listing and 'id="assign"' not in listing
    with pytest.raises(RoleRequired):
        services.findings_assign(
            team=team, actor=viewer, finding_ids=_ids(findings), assignee_id=None
        )


def test_the_findings_page_offers_triagers_and_above_and_shows_each_owner(
    team, findings, backend, triager, approver, member, client_as
):
    viewer = member(Role.VIEWER, username="vic")
    services.findings_assign(
        team=team, actor=triager, finding_ids=_ids(findings[:1]), assignee_id=approver.pk
    )

    body = client_as(triager).get(_url(team, "findings")).content.decode()

    offered = body.split('id="assign-assignee"')[1].split("</select>")[0]
    assert f'value="{approver.pk}"' in offered and f'value="{triager.pk}"' in offered
    assert f'value="{viewer.pk}"' not in offered
    assert "<th>Owner</th>" in body
    assert '@abe</span> · <span class="muted">@backend</span>' in body
    assert body.count('<span class="muted">@backend</span>') == 3
    assert 'data-claim-key="c"' in body and 'data-assign-key="a"' in body
    assert "<dt><kbd>c</kbd></dt><dd>Assign the selected findings (or this one) to me" in body


def test_an_htmx_assignment_answers_the_table_the_browser_shows(
    team, repository, findings, triager, approver, client_as
):
    current = f"http://testserver{_url(team, 'findings')}?repository={repository.pk}&sort=file"
    response = client_as(triager).post(
        _url(team),
        {"finding": _ids(findings), "assignee": approver.pk, "filter_query": "status=open"},
        headers={"HX-Request": "true", "HX-Target": "findings-page", "HX-Current-URL": current},
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert '<div id="findings-page"' in body
    assert "findingsChanged" in response["HX-Trigger"]
    assert "Assigned 3 findings to abe." in body  # a toast, out of band
    assert body.count("@abe</span>") == 3
    assert 'name="sort" value="file"' in body


def test_assigning_reads_a_bounded_number_of_queries_whatever_the_selection(
    team, repository, backend, triager, approver, client_as, django_assert_max_num_queries
):
    client = client_as(triager)
    client.get(_url(team, "findings"))  # the session's expiry slides on the first view
    counts = {}
    for size in (2, 40):
        chosen = [FindingFactory(repository=repository) for _ in range(size)]
        for action in ("assign", "unassign"):
            data = {"finding": _ids(chosen), "assignee": approver.pk, "action": action}
            with CaptureQueriesContext(db_connection) as queries:
                assert client.post(_url(team), data).status_code == 302
            counts[size, action] = len(queries)
    assert counts[2, "assign"] == counts[40, "assign"]
    assert counts[2, "unassign"] == counts[40, "unassign"]
    with django_assert_max_num_queries(20):
        client.post(_url(team), {"all_matching": "1", "filter_query": "", "action": "claim"})


def test_one_assignment_covers_at_most_the_cap(team, findings, triager, monkeypatch):
    monkeypatch.setattr(services, "MAX_ASSIGN_FINDINGS", 2)

    with pytest.raises(ServiceError, match="at most 2 findings"):
        services.findings_assign(
            team=team, actor=triager, finding_ids=_ids(findings), assignee_id=triager.pk
        )
    assert _owners(findings) == [(None, None, False)] * 3


def test_the_assign_include_selects_a_whole_group_by_its_filters(
    team, repository, findings, triager, approver, client_as, rf
):
    from django.template.loader import render_to_string

    from triage.views.options import select_options

    other = FindingFactory(repository=repository, check_id="other-rule")
    group = f"check_id={findings[0].check_id}"
    Finding.objects.filter(pk__in=_ids(findings)).update(check_id=findings[0].check_id)
    request = rf.get("/")
    request.user = triager
    html = render_to_string(
        "triage/findings/_assign_form.html",
        {
            "current_team": team,
            "assignable_options": select_options([(approver.pk, "abe")]),
            "filter_query": group,
            "prefix": "group-1",
        },
        request=request,
    )

    assert f'<form class="cluster" id="group-1" method="post" action="{_url(team)}"' in html
    assert '<input type="hidden" name="all_matching" value="1">' in html
    assert f'<input type="hidden" name="filter_query" value="{group}">' in html
    assert 'id="group-1-assignee"' in html and " form=" not in html
    assert f'<option value="{approver.pk}">abe</option></select>' in html

    response = client_as(triager).post(
        _url(team),
        {"all_matching": "1", "filter_query": group, "assignee": approver.pk, "action": "assign"},
        follow=True,
    )
    assert "Assigned 3 findings to abe." in response.content.decode()
    assert _owners([*findings, other]) == [("abe", None, True)] * 3 + [(None, None, False)]
