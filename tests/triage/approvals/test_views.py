"""The approvals inbox with both kinds of request, a dismissal's page and its actions, the
policy switch: roles, team isolation, and full pages against htmx fragments."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.dismissals import dismissal_requested, false_positive_requests
from tests.factories import FindingFactory, FixApprovalFactory, FixFactory, RepositoryFactory
from tests.pages import HTMX, team_url
from triage.models import (
    AuditEvent,
    DismissalRequest,
    FindingStatusJob,
    Role,
    TeamApprovalPolicy,
)

pytestmark = pytest.mark.django_db

Status = DismissalRequest.Status


@pytest.fixture
def repository(team):
    return RepositoryFactory(team=team, name="payments-api")


@pytest.fixture
def requester(member):
    return member(Role.TRIAGER, username="tess")


@pytest.fixture
def dismissal(team, repository, requester):
    findings = [FindingFactory(repository=repository) for _ in range(2)]
    request = dismissal_requested(
        team,
        requester,
        findings,
        status="ignored",
        reason="Sandbox-only service, never exposed",
        expires_on=timezone.now().date() + datetime.timedelta(days=30),
    )
    DismissalRequest.objects.filter(pk=request.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=3, hours=1)
    )
    request.refresh_from_db()
    return request


@pytest.fixture
def fix_approval(team, repository, requester):
    fix = FixFactory(repository=repository, title="Parameterize the refunds query")
    return FixApprovalFactory(
        fix=fix, requested_by=requester, note="Please look", diff_sha256="a" * 64
    )


def _dismissal_url(name, team, dismissal):
    return team_url(name, team, dismissal_id=dismissal.pk)


# The inbox


def test_inbox_lists_both_kinds_with_age_and_deadline(
    team, dismissal, fix_approval, member, client_as
):
    response = client_as(member(Role.VIEWER)).get(team_url("approvals", team))

    body = response.content.decode()
    assert response.status_code == 200 and "<html" in body
    assert 'data-kind="pull-requests"' in body and 'data-kind="dismissal"' in body
    assert "Parameterize the refunds query" in body
    assert "Set 2 findings to Ignored" in body
    assert "3 days" in body  # the dismissal's age
    assert f"Until {dismissal.expires_on:%-d %b %Y}" in body  # its deadline
    assert "Sandbox-only service, never exposed" in body
    assert _dismissal_url("approvals-dismissal", team, dismissal) in body
    # Oldest first: the dismissal was asked for three days ago.
    assert body.index('data-kind="dismissal"') < body.index('data-kind="pull-requests"')


def test_inbox_queries_do_not_grow_with_its_rows(team, repository, requester, member, client_as):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_as(member(Role.APPROVER))
    url = team_url("approvals", team)
    client.get(url)  # the first view after sign-in also slides the session

    def add_requests(count: int) -> None:
        for n in range(count):
            fix = FixFactory(repository=repository, title=f"Fix {n}")
            FixApprovalFactory(fix=fix, requested_by=requester, diff_sha256=f"{n:064x}")
        false_positive_requests(requester, repository, count, reason="reason")

    counts, requests = [], 0
    for count in (2, 8):
        add_requests(count)
        requests += 2 * count  # a fix approval and a dismissal each time
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.content.decode().count("<tr data-kind=") == requests
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_inbox_tab_is_a_fragment_for_htmx(team, dismissal, member, client_as):
    client = client_as(member(Role.VIEWER))
    DismissalRequest.objects.filter(pk=dismissal.pk).update(status=Status.REJECTED)

    full = client.get(team_url("approvals", team), {"status": "rejected"})
    fragment = client.get(team_url("approvals", team), {"status": "rejected"}, **HTMX)

    assert "<html" in full.content.decode()
    body = fragment.content.decode()
    assert body.lstrip().startswith('<div id="approvals-inbox"') and "<html" not in body
    assert "Set 2 findings to Ignored" in body and "Rejected" in body
    assert "HX-Request" in fragment["Vary"]
    waiting = client.get(team_url("approvals", team), HTTP_HX_REQUEST="true").content.decode()
    assert "Nothing is waiting for approval" in waiting


def test_nav_count_includes_waiting_dismissals(team, dismissal, fix_approval, member, client_as):
    body = client_as(member(Role.APPROVER)).get(team_url("approvals", team)).content.decode()
    assert 'aria-label="2 waiting"' in body
    viewer_body = client_as(member(Role.VIEWER)).get(team_url("approvals", team)).content.decode()
    assert "waiting</span>" not in viewer_body and 'aria-label="2 waiting"' not in viewer_body


# A dismissal's page


def test_viewer_reads_a_dismissal_without_any_action(team, dismissal, member, client_as):
    body = (
        client_as(member(Role.VIEWER))
        .get(_dismissal_url("approvals-dismissal", team, dismissal))
        .content.decode()
    )

    assert "Sandbox-only service, never exposed" in body
    assert "Waiting for approval" in body
    assert "dismissal-decide-form" not in body
    assert _dismissal_url("approvals-dismissal-cancel", team, dismissal) not in body


def test_approver_is_offered_the_decision_and_the_requester_only_cancelling(
    team, dismissal, requester, member, client_as
):
    approver_body = (
        client_as(member(Role.APPROVER))
        .get(_dismissal_url("approvals-dismissal", team, dismissal))
        .content.decode()
    )
    requester_body = (
        client_as(requester).get(_dismissal_url("approvals-dismissal", team, dismissal)).content
    ).decode()

    assert "dismissal-decide-form" in approver_body
    assert _dismissal_url("approvals-dismissal-cancel", team, dismissal) not in approver_body
    assert "dismissal-decide-form" not in requester_body
    assert "A second person must decide" in requester_body
    assert _dismissal_url("approvals-dismissal-cancel", team, dismissal) in requester_body


def test_progress_fragment_polls_only_while_applying(
    team, dismissal, member, client_as, django_capture_on_commit_callbacks
):
    approver = member(Role.APPROVER)
    client = client_as(approver)
    url = _dismissal_url("approvals-dismissal", team, dismissal)

    idle = client.get(url, HTTP_HX_REQUEST="true")
    assert idle.status_code == 286
    assert idle.content.decode().lstrip().startswith('<section class="card stack"')
    assert "<html" not in idle.content.decode()

    with django_capture_on_commit_callbacks(execute=False):
        decided = client.post(
            _dismissal_url("approvals-dismissal-decide", team, dismissal),
            {"decision": "approve", "comment": "Fine until then"},
            follow=True,
        )
    assert "Approved. Kolega is being asked to apply the status." in decided.content.decode()
    applying = client.get(url, HTTP_HX_REQUEST="true")
    assert applying.status_code == 200
    assert 'hx-trigger="every 2s"' in applying.content.decode()
    assert "Sending to Kolega: 0 of 2" in applying.content.decode()


def test_decide_refuses_the_requester_and_roles_below_approver(
    team, dismissal, requester, member, client_as
):
    url = _dismissal_url("approvals-dismissal-decide", team, dismissal)

    assert client_as(requester).post(url, {"decision": "approve"}).status_code == 403
    assert client_as(member(Role.VIEWER)).post(url, {"decision": "approve"}).status_code == 403
    dismissal.refresh_from_db()
    assert dismissal.status == Status.PENDING and not dismissal.decisions.exists()


def test_an_approver_cannot_approve_their_own_dismissal_through_the_view(
    team, repository, member, client_as
):
    approver = member(Role.APPROVER)
    request = dismissal_requested(
        team, approver, [FindingFactory(repository=repository)], status="ignored", reason="mine"
    )
    client = client_as(approver)

    page = client.get(_dismissal_url("approvals-dismissal", team, request)).content.decode()
    response = client.post(
        _dismissal_url("approvals-dismissal-decide", team, request),
        {"decision": "approve"},
        follow=True,
    )

    assert "dismissal-decide-form" not in page
    assert "A second person must decide: you asked for this dismissal." in (
        response.content.decode()
    )
    request.refresh_from_db()
    assert request.status == Status.PENDING and not FindingStatusJob.objects.exists()


def test_reject_through_the_view_is_audited_and_changes_nothing(team, dismissal, member, client_as):
    approver = member(Role.APPROVER)
    response = client_as(approver).post(
        _dismissal_url("approvals-dismissal-decide", team, dismissal),
        {"decision": "reject", "comment": "Fix it"},
        follow=True,
    )

    assert "Rejected. Nothing changes" in response.content.decode()
    dismissal.refresh_from_db()
    assert dismissal.status == Status.REJECTED
    assert set(dismissal.items.values_list("finding__status", flat=True)) == {"open"}
    event = AuditEvent.objects.get(action="dismissal.reject")
    assert event.actor == approver and event.details["comment"] == "Fix it"


def test_cancel_by_the_requester_and_not_by_a_viewer(team, dismissal, requester, member, client_as):
    url = _dismissal_url("approvals-dismissal-cancel", team, dismissal)

    assert client_as(member(Role.VIEWER)).post(url).status_code == 403
    other = client_as(member(Role.TRIAGER)).post(url, follow=True)
    assert "Only the person who asked" in other.content.decode()
    response = client_as(requester).post(url, follow=True)

    assert "Cancelled. The findings keep their status." in response.content.decode()
    dismissal.refresh_from_db()
    assert dismissal.status == Status.CANCELLED
    assert AuditEvent.objects.filter(action="dismissal.cancel", actor=requester).exists()


@pytest.mark.parametrize(
    "name,method",
    [
        ("approvals-dismissal", "get"),
        ("approvals-dismissal-decide", "post"),
        ("approvals-dismissal-cancel", "post"),
    ],
)
def test_another_teams_dismissal_is_404(
    name, method, team, other_team, dismissal, member, client_as
):
    outsider = client_as(member(Role.ADMIN, of=other_team))

    for slug in (team.slug, other_team.slug):
        url = reverse(name, kwargs={"team_slug": slug, "dismissal_id": dismissal.pk})
        response = getattr(outsider, method)(url, {"decision": "approve"})
        assert response.status_code == 404, (slug, response.status_code)
        assert "Sandbox-only service" not in response.content.decode()
    dismissal.refresh_from_db()
    assert dismissal.status == Status.PENDING


def test_another_teams_dismissals_are_not_in_the_inbox(
    team, other_team, dismissal, member, client_as
):
    body = client_as(member(Role.ADMIN, of=other_team)).get(
        reverse("approvals", kwargs={"team_slug": other_team.slug})
    )
    assert "Sandbox-only service" not in body.content.decode()


# The policy


def test_admin_switches_dismissal_approval_on_and_it_is_audited(team, member, client_as):
    admin = member(Role.ADMIN)
    url = team_url("settings-policies", team)

    response = client_as(admin).post(
        url, {"required_approvals": 1, "dismissals_require_approval": "on"}
    )

    assert response.status_code == 302
    assert TeamApprovalPolicy.objects.get(team=team).dismissals_require_approval is True
    event = AuditEvent.objects.get(action="approval_policy.update")
    assert event.details["dismissals_require_approval"] is True
    assert (
        "checked"
        in client_as(admin)
        .get(url)
        .content.decode()
        .split('name="dismissals_require_approval"')[1]
        .split(">")[0]
    )
    assert client_as(member(Role.APPROVER)).post(url, {"required_approvals": 1}).status_code == 403


# The findings pages follow the switch


def test_finding_page_offers_dismissing_for_approval_only_when_the_setting_is_on(
    team, repository, member, client_as
):
    finding = FindingFactory(repository=repository)
    client = client_as(member(Role.TRIAGER))
    url = reverse("finding", kwargs={"team_slug": team.slug, "finding_id": finding.pk})

    off = client.get(url).content.decode()
    TeamApprovalPolicy.objects.create(team=team, dismissals_require_approval=True)
    on = client.get(url).content.decode()

    assert 'name="status" value="ignored"' in off and "dismiss-form" not in off
    assert 'name="status" value="ignored"' not in on
    assert 'name="status" value="resolved"' in on
    assert "dismiss-form" in on and 'name="reason"' in on and 'name="expires_on"' in on


def test_findings_table_asks_for_a_reason_only_when_the_setting_is_on(
    team, repository, member, client_as
):
    FindingFactory(repository=repository)
    client = client_as(member(Role.TRIAGER))
    url = reverse("findings", kwargs={"team_slug": team.slug})

    assert 'id="bulk-reason"' not in client.get(url).content.decode()
    TeamApprovalPolicy.objects.create(team=team, dismissals_require_approval=True)
    body = client.get(url).content.decode()
    assert 'id="bulk-reason"' in body and 'id="bulk-expires"' in body
