"""Dismissals that need a second person, against the sandbox: the policy switch for single and
bulk changes, the four-eyes rules, rejecting, applying through a status job (and Kolega
refusing it), and the expiry task reopening findings."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.dismissals import dismissal_requested, dismissals_need_approval_set
from tests.triage.sync.mirror_equality import mirror_differences
from triage.models import (
    AuditEvent,
    DismissalRequest,
    Finding,
    FindingNote,
    FindingStatusJob,
    Role,
)
from triage.services.approvals import approval_policy_set
from triage.services.dismissals import (
    dismissal_cancel,
    dismissal_decide,
    dismissals_expire,
)
from triage.services.errors import RoleRequired, ServiceError
from triage.services.findings import (
    finding_status_job_create,
    finding_status_job_run,
    finding_status_job_undo,
    finding_status_set,
)
from triage.tasks import expire_dismissals

pytestmark = pytest.mark.django_db

Status = DismissalRequest.Status
TODAY = datetime.date.today


def _upstream_status(upstream, finding: Finding) -> str:
    return upstream.get_finding(
        repository_id=finding.repository.upstream_id, finding_id=finding.upstream_id
    ).status


def _findings_differences(connection, upstream) -> list[str]:
    # Status changes add events only the next sync mirrors; the findings must match now.
    return [
        p
        for p in mirror_differences(connection, upstream)
        if p.startswith("finding ") and not p.startswith("finding events")
    ]


def _open_findings(connection, n):
    return list(Finding.objects.filter(connection=connection, status="open").order_by("pk")[:n])


def _finding_url(team, finding):
    return reverse("finding", kwargs={"team_slug": team.slug, "finding_id": finding.pk})


def _approve(request, actor, capture, **kwargs) -> DismissalRequest:
    with capture(execute=False) as callbacks:
        decided = dismissal_decide(request=request, actor=actor, approve=True, **kwargs)
    assert len(callbacks) == 1  # the status job is queued once the approval is committed
    return decided


def _run(job_id, client_factory) -> FindingStatusJob:
    return finding_status_job_run(job_id=job_id, client_factory=client_factory, concurrency=1)


# The policy switch


def test_without_the_setting_dismissing_changes_the_status_at_once(
    synced, team, member, client_as, upstream
):
    finding = _open_findings(synced, 1)[0]
    client = client_as(member(Role.TRIAGER))

    response = client.post(_finding_url(team, finding), {"status": "ignored"}, follow=True)

    assert "Kolega accepted the new status." in response.content.decode()
    finding.refresh_from_db()
    assert finding.status == "ignored" == _upstream_status(upstream, finding)
    assert not DismissalRequest.objects.exists()


def test_with_the_setting_a_single_dismissal_becomes_a_request(
    synced, team, triager, client_as, upstream, dismissals_need_approval
):
    finding = _open_findings(synced, 1)[0]
    client = client_as(triager)
    in_a_week = TODAY() + datetime.timedelta(days=7)

    response = client.post(
        _finding_url(team, finding),
        {"status": "ignored", "reason": "Test fixture, never deployed", "expires_on": in_a_week},
        follow=True,
    )

    body = response.content.decode()
    assert "Sent for approval: 1 finding to be set to Ignored" in body
    request = DismissalRequest.objects.get()
    assert (request.requested_status, request.reason, request.expires_on) == (
        "ignored",
        "Test fixture, never deployed",
        in_a_week,
    )
    assert (request.status, request.requested_by, request.total) == (Status.PENDING, triager, 1)
    assert list(request.items.values_list("finding_id", "previous_status")) == [
        (finding.pk, "open")
    ]
    finding.refresh_from_db()
    assert finding.status == "open" == _upstream_status(upstream, finding)
    assert "is waiting for approval" in body  # the finding page says so
    assert AuditEvent.objects.filter(action="dismissal.request", target_id=str(request.pk)).exists()


def test_with_the_setting_a_dismissal_without_a_reason_is_refused(
    synced, team, triager, client_as, upstream, dismissals_need_approval
):
    finding = _open_findings(synced, 1)[0]
    client = client_as(triager)

    page = client.post(_finding_url(team, finding), {"status": "false_positive"}, follow=True)
    row = client.post(_finding_url(team, finding), {"status": "ignored"}, HTTP_HX_REQUEST="true")

    assert "Give a reason for the approver." in page.content.decode()
    assert "open the finding to give a reason" in row.content.decode()
    assert not DismissalRequest.objects.exists()
    finding.refresh_from_db()
    assert finding.status == "open" == _upstream_status(upstream, finding)


def test_with_the_setting_other_statuses_change_at_once(
    synced, team, triager, client_as, upstream, dismissals_need_approval
):
    finding = _open_findings(synced, 1)[0]

    response = client_as(triager).post(_finding_url(team, finding), {"status": "resolved"})

    assert response.status_code == 302
    finding.refresh_from_db()
    assert finding.status == "resolved" == _upstream_status(upstream, finding)
    assert not DismissalRequest.objects.exists()


def test_with_the_setting_the_services_refuse_a_direct_dismissal(
    synced, team, triager, dismissals_need_approval
):
    finding = _open_findings(synced, 1)[0]

    with pytest.raises(ServiceError, match="needs approval"):
        finding_status_set(team=team, actor=triager, finding=finding, status="ignored")
    with pytest.raises(ServiceError, match="needs approval"):
        finding_status_job_create(
            team=team, actor=triager, finding_ids=[finding.pk], status="false_positive"
        )
    assert not FindingStatusJob.objects.exists()


def test_bulk_dismissal_with_the_setting_becomes_one_request(
    synced, team, triager, client_as, upstream, dismissals_need_approval
):
    findings = _open_findings(synced, 3)
    client = client_as(triager)

    response = client.post(
        reverse("findings-bulk", kwargs={"team_slug": team.slug}),
        {
            "finding": [f.pk for f in findings],
            "status": "false_positive",
            "reason": "Generated code, scanned by mistake",
            "filter_query": "severity=high",
        },
        follow=True,
    )

    request = DismissalRequest.objects.get()
    assert response.redirect_chain[-1][0] == reverse(
        "approvals-dismissal", kwargs={"team_slug": team.slug, "dismissal_id": request.pk}
    )
    assert "Sent for approval: 3 findings to be set to False positive" in response.content.decode()
    assert set(request.items.values_list("finding_id", flat=True)) == {f.pk for f in findings}
    assert request.filter_query == "severity=high"
    assert not FindingStatusJob.objects.exists()
    for finding in findings:
        finding.refresh_from_db()
        assert finding.status == "open" == _upstream_status(upstream, finding)


def test_bulk_dismissal_without_a_reason_or_with_a_past_expiry_is_refused(
    synced, team, triager, client_as, dismissals_need_approval
):
    findings = _open_findings(synced, 2)
    url = reverse("findings-bulk", kwargs={"team_slug": team.slug})
    client = client_as(triager)

    no_reason = client.post(
        url, {"finding": [f.pk for f in findings], "status": "ignored"}, HTTP_HX_REQUEST="true"
    )
    past = client.post(
        url,
        {
            "finding": [f.pk for f in findings],
            "status": "ignored",
            "reason": "Later",
            "expires_on": TODAY().isoformat(),
        },
        HTTP_HX_REQUEST="true",
    )

    assert "Give a reason for the approver." in no_reason.content.decode()
    assert "The expiry date must be in the future." in past.content.decode()
    assert not DismissalRequest.objects.exists()


def test_bulk_dismissal_without_the_setting_starts_a_status_job(
    synced, team, triager, client_as, django_capture_on_commit_callbacks
):
    findings = _open_findings(synced, 2)
    with django_capture_on_commit_callbacks(execute=False):
        client_as(triager).post(
            reverse("findings-bulk", kwargs={"team_slug": team.slug}),
            {"finding": [f.pk for f in findings], "status": "ignored"},
        )

    assert FindingStatusJob.objects.get().target_status == "ignored"
    assert not DismissalRequest.objects.exists()


def test_findings_already_waiting_are_left_out_of_a_second_request(
    synced, team, triager, dismissals_need_approval
):
    findings = _open_findings(synced, 3)
    dismissal_requested(team, triager, [findings[0]], status="ignored", reason="a")

    second = dismissal_requested(team, triager, findings, status="ignored", reason="b")

    assert second.total == 2 and second.skipped == 1
    with pytest.raises(ServiceError, match="already waiting"):
        dismissal_requested(team, triager, [findings[0]], status="ignored", reason="c")


def test_false_positive_has_no_expiry(synced, team, triager, dismissals_need_approval):
    finding = _open_findings(synced, 1)[0]
    with pytest.raises(ServiceError, match="no expiry date"):
        dismissal_requested(
            team,
            triager,
            [finding],
            status="false_positive",
            reason="x",
            expires_on=TODAY() + datetime.timedelta(days=3),
        )


def test_admin_turns_the_setting_on_and_off_audited(team, admin):
    dismissals_need_approval_set(team, admin)
    # A caller that does not know the setting keeps it.
    policy = approval_policy_set(
        team=team, actor=admin, required_approvals=2, admins_may_self_approve=False
    )

    assert policy.dismissals_require_approval is True
    events = AuditEvent.objects.filter(action="approval_policy.update").order_by("pk")
    assert [e.details["dismissals_require_approval"] for e in events] == [True, True]


# Four eyes


@pytest.fixture
def pending(synced, team, triager, dismissals_need_approval):
    findings = _open_findings(synced, 2)
    return dismissal_requested(
        team, triager, findings, status="ignored", reason="Vendored library, patched upstream"
    )


def test_the_requester_cannot_approve_their_own_request(team, member, dismissals_need_approval):
    from tests.factories import FindingFactory

    requester = member(Role.APPROVER)
    finding = FindingFactory(repository__team=team)
    request = dismissal_requested(team, requester, [finding], status="ignored", reason="x")

    with pytest.raises(ServiceError, match="A second person must decide"):
        dismissal_decide(request=request, actor=requester, approve=True)
    request.refresh_from_db()
    assert request.status == Status.PENDING and not request.decisions.exists()


def test_an_admin_approves_their_own_only_when_the_policy_allows(
    team, admin, dismissals_need_approval, django_capture_on_commit_callbacks
):
    from tests.factories import FindingFactory

    finding = FindingFactory(repository__team=team)
    request = dismissal_requested(team, admin, [finding], status="ignored", reason="x")
    with pytest.raises(ServiceError, match="A second person must decide"):
        dismissal_decide(request=request, actor=admin, approve=True)

    dismissals_need_approval.admins_may_self_approve = True
    dismissals_need_approval.save()
    decided = _approve(request, admin, django_capture_on_commit_callbacks)
    assert decided.status == Status.APPROVED


def test_a_triager_cannot_decide(pending, member):
    with pytest.raises(RoleRequired):
        dismissal_decide(request=pending, actor=member(Role.TRIAGER), approve=True)


def test_two_approvals_when_the_policy_asks_for_two(
    pending, approver, second_approver, dismissals_need_approval, django_capture_on_commit_callbacks
):
    pending.required_approvals = 2
    pending.save()

    first = dismissal_decide(request=pending, actor=approver, approve=True)
    assert first.status == Status.PENDING and first.apply_job is None
    with pytest.raises(ServiceError, match="already decided"):
        dismissal_decide(request=pending, actor=approver, approve=True)
    second = _approve(pending, second_approver, django_capture_on_commit_callbacks)
    assert second.status == Status.APPROVED and second.apply_job is not None


def test_rejecting_changes_nothing(pending, approver, synced, upstream):
    findings = [item.finding for item in pending.items.select_related("finding")]

    decided = dismissal_decide(
        request=pending, actor=approver, approve=False, comment="Fix it instead"
    )

    assert decided.status == Status.REJECTED and decided.apply_job is None
    assert not FindingStatusJob.objects.exists()
    for finding in findings:
        finding.refresh_from_db()
        assert finding.status == "open" == _upstream_status(upstream, finding)
        note = FindingNote.objects.get(finding=finding, kind=FindingNote.Kind.DISMISSAL_REJECTED)
        assert "Fix it instead" in note.body
    assert AuditEvent.objects.filter(action="dismissal.reject").count() == 1
    with pytest.raises(ServiceError, match="already rejected"):
        dismissal_decide(request=pending, actor=approver, approve=True)


def test_cancel_by_the_requester_only(pending, triager, member):
    with pytest.raises(ServiceError, match="Only the person who asked"):
        dismissal_cancel(request=pending, actor=member(Role.TRIAGER))

    cancelled = dismissal_cancel(request=pending, actor=triager)

    assert cancelled.status == Status.CANCELLED
    assert AuditEvent.objects.filter(action="dismissal.cancel").exists()


# Applying


def test_approval_applies_the_status_through_a_status_job(
    pending, approver, synced, upstream, client_factory, django_capture_on_commit_callbacks
):
    findings = [item.finding for item in pending.items.select_related("finding")]

    decided = _approve(pending, approver, django_capture_on_commit_callbacks, comment="Agreed")
    job = decided.apply_job
    assert (job.target_status, job.created_by, job.total) == ("ignored", approver, 2)
    for finding in findings:  # nothing changes before the job runs
        finding.refresh_from_db()
        assert finding.status == "open"

    _run(job.pk, client_factory)

    decided.refresh_from_db()
    assert decided.status == Status.APPLIED and decided.applied_at is not None
    assert set(decided.items.values_list("applied", flat=True)) == {True}
    for finding in findings:
        finding.refresh_from_db()
        assert finding.status == "ignored" == _upstream_status(upstream, finding)
        note = FindingNote.objects.get(finding=finding, kind=FindingNote.Kind.DISMISSAL_APPLIED)
        assert "approved by abe" in note.body
    assert _findings_differences(synced, upstream) == []
    assert AuditEvent.objects.filter(action="finding.status_change").count() == 2
    assert AuditEvent.objects.filter(action="dismissal.applied").count() == 1


def test_kolega_refusing_the_dismissal_is_shown_and_changes_nothing(
    pending,
    approver,
    synced,
    upstream,
    demo_org,
    team,
    client_as,
    client_factory,
    django_capture_on_commit_callbacks,
):
    from sandbox.models import Finding as SandboxFinding
    from sandbox.services.faults import fault_config_clear, fault_config_set

    organization, _ = demo_org
    findings = [item.finding for item in pending.items.select_related("finding")]
    before = {f.pk: (f.status, f.updated_at) for f in findings}
    decided = _approve(pending, approver, django_capture_on_commit_callbacks)
    fault_config_set(organization=organization, revoke_key_prefix=synced.key_prefix)

    _run(decided.apply_job_id, client_factory)
    fault_config_clear(organization=organization)

    decided.refresh_from_db()
    assert decided.status == Status.FAILED
    assert not decided.items.filter(applied=True).exists()
    for finding in findings:
        finding.refresh_from_db()
        assert (finding.status, finding.updated_at) == before[finding.pk]
        # The connection's key is revoked now: read Kolega's side in the sandbox itself.
        assert SandboxFinding.objects.get(id=finding.upstream_id).status == "open"
    assert not FindingNote.objects.filter(kind=FindingNote.Kind.DISMISSAL_APPLIED).exists()
    page = client_as(approver).get(
        reverse("approvals-dismissal", kwargs={"team_slug": team.slug, "dismissal_id": decided.pk})
    )
    body = page.content.decode()
    assert "Kolega refused 2 findings; their status did not change." in body
    assert (
        "Kolega rejected this connection&#x27;s key" in body or "rejected this connection" in body
    )


# Expiry


@pytest.fixture
def applied_until_tomorrow(
    synced,
    team,
    triager,
    approver,
    client_factory,
    dismissals_need_approval,
    django_capture_on_commit_callbacks,
):
    findings = _open_findings(synced, 2)
    request = dismissal_requested(
        team,
        triager,
        findings,
        status="ignored",
        reason="Accepted risk until the migration",
        expires_on=TODAY() + datetime.timedelta(days=1),
    )
    decided = _approve(request, approver, django_capture_on_commit_callbacks)
    _run(decided.apply_job_id, client_factory)
    decided.refresh_from_db()
    assert decided.status == Status.APPLIED
    return decided


def test_nothing_expires_before_its_day(applied_until_tomorrow, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert expire_dismissals() == 0
    assert callbacks == []
    applied_until_tomorrow.refresh_from_db()
    assert applied_until_tomorrow.status == Status.APPLIED


def test_expiry_reopens_the_findings_and_says_so_on_their_timeline(
    applied_until_tomorrow,
    synced,
    upstream,
    team,
    member,
    client_as,
    client_factory,
    django_capture_on_commit_callbacks,
):
    request = applied_until_tomorrow
    findings = [item.finding for item in request.items.select_related("finding")]
    # Someone resolved one of them meanwhile: the expiry leaves it alone.
    resolved = findings[1]
    finding_status_set(team=team, actor=request.requested_by, finding=resolved, status="resolved")
    DismissalRequest.objects.filter(pk=request.pk).update(
        expires_on=TODAY() - datetime.timedelta(days=1)
    )

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert expire_dismissals() == 1
    assert len(callbacks) == 1
    request.refresh_from_db()
    assert request.status == Status.EXPIRED and request.reopen_job is not None
    job = request.reopen_job
    assert (job.target_status, job.created_by, job.total) == ("open", None, 1)
    _run(job.pk, client_factory)

    reopened = findings[0]
    reopened.refresh_from_db()
    resolved.refresh_from_db()
    assert reopened.status == "open" == _upstream_status(upstream, reopened)
    assert resolved.status == "resolved" == _upstream_status(upstream, resolved)
    assert _findings_differences(synced, upstream) == []
    expected = f"Dismissal expired on {request.expires_on:%d %b %Y}; reopened"
    note = FindingNote.objects.get(finding=reopened, kind=FindingNote.Kind.DISMISSAL_EXPIRED)
    assert note.body == expected
    assert not FindingNote.objects.filter(
        finding=resolved, kind=FindingNote.Kind.DISMISSAL_EXPIRED
    ).exists()
    page = client_as(member(Role.VIEWER)).get(_finding_url(team, reopened))
    assert expected in page.content.decode()
    assert AuditEvent.objects.filter(action="dismissal.expire").count() == 1

    # Twice: nothing more is queued, sent or written.
    with django_capture_on_commit_callbacks(execute=False) as again:
        assert expire_dismissals() == 0
    assert again == []
    _run(job.pk, client_factory)
    assert FindingStatusJob.objects.filter(target_status="open").count() == 1
    assert FindingNote.objects.filter(kind=FindingNote.Kind.DISMISSAL_EXPIRED).count() == 1
    assert AuditEvent.objects.filter(action="dismissal.expire").count() == 1
    # Undoing the reopening would dismiss again without a second person.
    job.refresh_from_db()
    with pytest.raises(ServiceError, match="needs approval"):
        finding_status_job_undo(job=job, actor=request.requested_by)


def test_expiry_when_every_finding_moved_on_queues_nothing(
    applied_until_tomorrow, team, django_capture_on_commit_callbacks
):
    request = applied_until_tomorrow
    for item in request.items.select_related("finding"):
        finding_status_set(
            team=team, actor=request.requested_by, finding=item.finding, status="resolved"
        )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        expired = dismissals_expire(on=TODAY() + datetime.timedelta(days=1))
    assert [r.pk for r in expired] == [request.pk]
    assert callbacks == []
    request.refresh_from_db()
    assert request.status == Status.EXPIRED and request.reopen_job is None


def test_an_approval_after_the_expiry_date_is_refused(pending, approver):
    DismissalRequest.objects.filter(pk=pending.pk).update(expires_on=timezone.now().date())
    pending.refresh_from_db()
    with pytest.raises(ServiceError, match="expiry date has passed"):
        dismissal_decide(request=pending, actor=approver, approve=True)


def test_approvers_get_an_email_about_a_dismissal_request(
    synced,
    team,
    triager,
    approver,
    dismissals_need_approval,
    settings,
    django_capture_on_commit_callbacks,
):
    from django.core import mail

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    finding = _open_findings(synced, 1)[0]

    with django_capture_on_commit_callbacks(execute=True):
        dismissal_requested(
            team, triager, [finding], status="false_positive", reason="The value is a test fixture."
        )

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert approver.email in message.to and triager.email not in message.to
    assert "Dismissal requested" in message.subject
    assert "The value is a test fixture." in message.body
