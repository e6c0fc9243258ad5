"""Domain events in ``HX-Trigger`` and the fragments that listen to them: the approvals badge
in the navigation, the findings count, a dismissal's card and progress, a status job's end.
Each view is asked both as a full page and as an htmx fragment."""

import json

import pytest

from tests.dismissals import dismissal_requested
from tests.factories import FindingFactory, RepositoryFactory
from tests.pages import HTMX, team_url
from tests.triage.approvals.conftest import (  # noqa: F401  (the sandbox-backed fixtures)
    connection,
    dismissals_need_approval,
    synced,
)
from triage.models import DismissalRequest, Finding, FindingStatusJob, Role

pytestmark = pytest.mark.django_db


def _events(response) -> set[str]:
    return set(json.loads(response.headers.get("HX-Trigger", "{}")))


@pytest.fixture
def dismissal(team, triager):
    repository = RepositoryFactory(team=team)
    findings = [FindingFactory(repository=repository) for _ in range(2)]
    return dismissal_requested(
        team, triager, findings, status="ignored", reason="Test fixture, never deployed"
    )


# The approvals badge


def test_every_page_carries_the_badge_listening_for_approval_changes(
    team, dismissal, approver, client_as
):
    body = client_as(approver).get(team_url("findings", team)).content.decode()

    assert 'id="approvals-badge"' in body
    assert 'hx-trigger="approvalsChanged from:body"' in body
    assert f'hx-get="{team_url("approvals-badge", team)}"' in body
    assert 'aria-label="1 waiting">1</span>' in body


def test_the_badge_fragment_counts_what_waits_now(team, dismissal, approver, client_as):
    client = client_as(approver)
    assert (
        'aria-label="1 waiting"'
        in client.get(team_url("approvals-badge", team), **HTMX).content.decode()
    )

    DismissalRequest.objects.filter(pk=dismissal.pk).update(status=DismissalRequest.Status.REJECTED)
    fragment = client.get(team_url("approvals-badge", team), **HTMX)

    body = fragment.content.decode()
    assert fragment.status_code == 200 and "<html" not in body
    assert 'id="approvals-badge"' in body and "waiting" not in body  # still there, to listen
    assert "HX-Request" in fragment["Vary"]


def test_the_badge_url_opened_as_a_page_leads_to_the_inbox(team, approver, client_as):
    response = client_as(approver).get(team_url("approvals-badge", team))

    assert response.status_code == 302 and response["Location"] == team_url("approvals", team)


def test_people_who_cannot_approve_have_no_badge(team, dismissal, member, client_as):
    viewer = client_as(member(Role.VIEWER))

    assert 'id="approvals-badge"' not in viewer.get(team_url("findings", team)).content.decode()
    assert viewer.get(team_url("approvals-badge", team), **HTMX).content.strip() == b""


# Deciding or cancelling a dismissal


def test_an_htmx_decision_answers_the_card_and_says_approvals_changed(
    team, dismissal, approver, client_as
):
    response = client_as(approver).post(
        team_url("approvals-dismissal-decide", team, dismissal_id=dismissal.pk),
        {"decision": "reject", "comment": "Fix it instead"},
        **HTMX,
    )

    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'id="dismissal-request"' in body and "Fix it instead" in body
    assert 'hx-swap-oob="beforeend:#toasts"' in body and "Rejected. Nothing changes" in body
    assert _events(response) == {"approvalsChanged"}
    dismissal.refresh_from_db()
    assert dismissal.status == DismissalRequest.Status.REJECTED


def test_a_plain_decision_is_still_redirected_to_the_page(team, dismissal, approver, client_as):
    response = client_as(approver).post(
        team_url("approvals-dismissal-decide", team, dismissal_id=dismissal.pk),
        {"decision": "reject", "comment": "No"},
    )

    assert response.status_code == 302
    assert response["Location"] == team_url("approvals-dismissal", team, dismissal_id=dismissal.pk)
    assert "HX-Trigger" not in response


def test_a_refused_htmx_decision_changes_nothing_and_sends_no_event(
    team, dismissal, triager, member, client_as
):
    # The requester, a triager, is no approver: the role check refuses before the view runs.
    assert (
        client_as(triager)
        .post(
            team_url("approvals-dismissal-decide", team, dismissal_id=dismissal.pk),
            {"decision": "approve"},
            **HTMX,
        )
        .status_code
        == 403
    )
    # An approver who sends no decision is told so, in the card's toasts.
    response = client_as(member(Role.APPROVER)).post(
        team_url("approvals-dismissal-decide", team, dismissal_id=dismissal.pk), {}, **HTMX
    )

    assert "Choose approve or reject." in response.content.decode()
    assert _events(response) == set()
    dismissal.refresh_from_db()
    assert dismissal.status == DismissalRequest.Status.PENDING


def test_an_htmx_cancel_answers_the_card_and_says_approvals_changed(
    team, dismissal, triager, client_as
):
    response = client_as(triager).post(
        team_url("approvals-dismissal-cancel", team, dismissal_id=dismissal.pk), **HTMX
    )

    assert 'id="dismissal-request"' in response.content.decode()
    assert _events(response) == {"approvalsChanged"}
    dismissal.refresh_from_db()
    assert dismissal.status == DismissalRequest.Status.CANCELLED


def test_the_dismissal_page_offers_htmx_decisions_and_a_progress_that_listens(
    team, dismissal, approver, client_as
):
    body = (
        client_as(approver)
        .get(team_url("approvals-dismissal", team, dismissal_id=dismissal.pk))
        .content.decode()
    )

    decide = team_url("approvals-dismissal-decide", team, dismissal_id=dismissal.pk)
    assert f'hx-post="{decide}" hx-target="#dismissal-request"' in body
    # Waiting for a decision, the progress card fetches itself when one is made.
    assert 'id="dismissal-progress"' in body and "approvalsChanged from:body" in body


# Findings: the count and the table's row


def test_the_findings_count_listens_with_the_pages_own_filters(team, member, client_as):
    repository = RepositoryFactory(team=team)
    FindingFactory.create_batch(3, repository=repository, severity="high")
    FindingFactory(repository=repository, severity="low")
    client = client_as(member(Role.VIEWER))

    page = client.get(team_url("findings", team), {"severity": "high"}).content.decode()
    fragment = client.get(team_url("findings", team), {"severity": "high"}, **HTMX).content.decode()

    count_url = f"{team_url('findings-count', team)}?severity=high"
    for body in (page, fragment):
        assert f'hx-get="{count_url}" hx-trigger="findingsChanged from:body"' in body
        assert "3 findings" in body


def test_the_findings_count_fragment_counts_the_filters_now(team, member, client_as):
    repository = RepositoryFactory(team=team)
    findings = FindingFactory.create_batch(3, repository=repository, status="open")
    client = client_as(member(Role.VIEWER))
    Finding.objects.filter(pk=findings[0].pk).update(status="resolved")

    response = client.get(team_url("findings-count", team), {"status": "open"}, **HTMX)

    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert 'id="findings-count"' in body and "2 findings" in body
    assert "HX-Request" in response["Vary"]


def test_the_findings_count_opened_as_a_page_leads_to_the_findings(team, member, client_as):
    response = client_as(member(Role.VIEWER)).get(
        team_url("findings-count", team), {"status": "open"}
    )

    assert response.status_code == 302
    assert response["Location"] == team_url("findings", team) + "?status=open"


def test_the_findings_count_is_the_teams_only(team, other_team, member, client_as):
    FindingFactory.create_batch(2, repository=RepositoryFactory(team=other_team))
    client = client_as(member(Role.VIEWER))

    assert "0 findings" in client.get(team_url("findings-count", team), **HTMX).content.decode()
    assert client.get(team_url("findings-count", other_team), **HTMX).status_code == 404


def test_a_status_set_from_the_table_says_findings_changed(
    synced,  # noqa: F811
    team,
    member,
    client_as,
):
    finding = Finding.objects.filter(connection=synced, status="open").first()

    response = client_as(member(Role.TRIAGER)).post(
        team_url("finding", team, finding_id=finding.pk), {"status": "resolved"}, **HTMX
    )

    assert 'id="finding-row-' in response.content.decode()
    assert _events(response) == {"findingsChanged"}
    finding.refresh_from_db()
    assert finding.status == "resolved"


def test_a_dismissal_sent_for_approval_from_the_table_says_approvals_changed(
    team,
    member,
    client_as,
    dismissals_need_approval,  # noqa: F811
):
    finding = FindingFactory(repository=RepositoryFactory(team=team), status="open")

    # From the table there is no reason to give: the row says so and nothing changes.
    refused = client_as(member(Role.TRIAGER)).post(
        team_url("finding", team, finding_id=finding.pk), {"status": "ignored"}, **HTMX
    )
    assert "Dismissing needs approval" in refused.content.decode()
    assert _events(refused) == set()

    response = client_as(member(Role.TRIAGER)).post(
        team_url("finding", team, finding_id=finding.pk),
        {"status": "ignored", "reason": "Test data"},
        **HTMX,
    )
    assert _events(response) == {"approvalsChanged"}
    assert DismissalRequest.objects.filter(status=DismissalRequest.Status.PENDING).count() == 1


# A status job's last answer


@pytest.mark.parametrize(
    "state,status_code,events",
    [
        (FindingStatusJob.State.RUNNING, 200, set()),
        (FindingStatusJob.State.FINISHED, 286, {"findingsChanged"}),
    ],
)
def test_a_status_jobs_progress_says_findings_changed_once_it_ends(
    team, member, client_as, state, status_code, events
):
    user = member(Role.VIEWER)
    job = FindingStatusJob.objects.create(
        team=team, created_by=user, target_status="resolved", state=state, total=1
    )
    client = client_as(user)
    url = team_url("findings-job", team, job_id=job.pk)

    fragment = client.get(url, **HTMX)
    page = client.get(url)

    assert fragment.status_code == status_code and _events(fragment) == events
    assert "<html" not in fragment.content.decode()
    assert page.status_code == 200 and "<html" in page.content.decode()
    assert "HX-Trigger" not in page
