"""Launching a campaign against the sandbox: one fix per repository and source repository,
refused before any request when the quota cannot cover it, and never a fix twice however
the launch is retried or wherever its worker died."""

from datetime import timedelta

import pytest
from django.utils import timezone

from sandbox.models import Organization
from triage.models import (
    AuditEvent,
    Campaign,
    CampaignFinding,
    CampaignRepository,
    Finding,
    Fix,
)
from triage.services import campaigns as services
from triage.services.errors import ServiceError

pytestmark = pytest.mark.django_db


def _launched(campaign, triager, django_capture_on_commit_callbacks) -> list:
    """Launch; answer the callbacks queued on commit (the launch task), not run."""
    with django_capture_on_commit_callbacks() as callbacks:
        services.campaign_launch(campaign=campaign, actor=triager)
    return callbacks


def test_the_plan_is_one_fix_per_repository_and_source_repository(campaign, connection):
    rows = list(campaign.repositories.select_related("repository"))
    findings = Finding.objects.filter(team=connection.team, scan_type="semgrep_scan").unresolved()
    expected = {
        (f.repository_id, services.source_repo_of(f, f.repository))
        for f in findings.select_related("repository")
    }
    assert len(rows) >= 2, "the demo organization has open code findings in several repositories"
    assert {(row.repository_id, row.source_repo) for row in rows} == expected
    assert all(row.state == CampaignRepository.State.PLANNED for row in rows)
    assert CampaignFinding.objects.filter(campaign=campaign).count() == findings.count()
    for row in rows:
        covered = Finding.objects.filter(pk__in=row.findings.values("finding"))
        assert {f.repository_id for f in covered} == {row.repository_id}
    assert AuditEvent.objects.filter(action="campaign.create", target_id=str(campaign.pk)).exists()


def test_a_launch_starts_one_fix_per_repository_through_kolega(
    campaign, triager, allow_fixes, sandbox_fixes, request_log, django_capture_on_commit_callbacks
):
    rows = list(campaign.repositories.all())
    allow_fixes(len(rows))
    before = sandbox_fixes()
    callbacks = _launched(campaign, triager, django_capture_on_commit_callbacks)
    assert len(callbacks) == 1  # the launch task, queued once the launch is committed
    assert request_log.posts == []  # the launch itself only checked the quota

    result = services.campaign_launch_run(campaign_id=campaign.pk, concurrency=1)

    assert (result.started, result.failed) == (len(rows), 0)
    assert sandbox_fixes() == before + len(rows)
    assert len([p for p in request_log.posts if p.endswith("/fixes")]) == len(rows)
    for row in CampaignRepository.objects.filter(campaign=campaign).select_related("fix"):
        assert row.state == CampaignRepository.State.STARTED
        assert row.fix.source_repo == row.source_repo
        assert row.fix.title == row.title
        finding_ids = Finding.objects.filter(pk__in=row.findings.values("finding"))
        assert sorted(row.fix.finding_ids) == sorted(f.upstream_id for f in finding_ids)
        assert set(row.findings.values_list("state", flat=True)) == {"in_fix"}
    assert AuditEvent.objects.filter(action="fix.create").count() == len(rows)
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.LAUNCHED and campaign.launched_by == triager


def test_quota_exhaustion_is_refused_before_any_request_that_creates(
    campaign, triager, demo_org, sandbox_fixes, request_log, django_capture_on_commit_callbacks
):
    Organization.objects.filter(pk=demo_org[0].pk).update(prs_plan=0, prs_topup=0)
    before = sandbox_fixes()
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(ServiceError, match="Nothing was sent to Kolega"),
    ):
        services.campaign_launch(campaign=campaign, actor=triager)
    assert callbacks == []
    assert request_log.posts == []
    assert [path for _, path in request_log.sent] == ["/sandbox/api/v1/quotas/balance"]
    assert sandbox_fixes() == before
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.DRAFT
    assert set(campaign.repositories.values_list("state", flat=True)) == {"planned"}


def test_a_quota_short_by_one_fix_is_refused_too(
    campaign, triager, allow_fixes, sandbox_fixes, request_log
):
    allow_fixes(campaign.repositories.count() - 1)
    before = sandbox_fixes()
    with pytest.raises(ServiceError, match="only"):
        services.campaign_launch(campaign=campaign, actor=triager)
    assert request_log.posts == [] and sandbox_fixes() == before


def test_the_plan_shows_what_will_not_fit(campaign, allow_fixes):
    rows = campaign.repositories.count()
    allow_fixes(rows - 1)
    check = services.campaign_launch_check(campaign=campaign, fresh=True)
    (plan,) = check.by_connection()
    assert len(plan.fitting) == rows - 1 and len(plan.not_fitting) == 1
    assert check.problems


def test_a_retried_launch_starts_nothing_twice(
    campaign, triager, allow_fixes, sandbox_fixes, django_capture_on_commit_callbacks
):
    rows = campaign.repositories.count()
    allow_fixes(rows + 5)
    _launched(campaign, triager, django_capture_on_commit_callbacks)
    before = sandbox_fixes()
    first = services.campaign_launch_run(campaign_id=campaign.pk, concurrency=1)
    again = services.campaign_launch_run(campaign_id=campaign.pk, concurrency=1)
    assert first.started == rows
    assert (again.started, again.failed, again.adopted) == (0, 0, 0)
    assert sandbox_fixes() == before + rows
    assert Fix.objects.filter(team=campaign.team).count() >= rows


def test_a_worker_killed_after_its_post_leaves_a_claim_that_is_adopted_not_resent(
    campaign, triager, allow_fixes, sandbox_fixes, upstream, django_capture_on_commit_callbacks
):
    """The worker claimed two rows and died: Kolega made the fix of the first (its answer was
    lost with the worker), not of the second. The redelivered launch adopts the first's fix
    and starts the second; every other row starts once."""
    rows = list(campaign.repositories.select_related("repository").order_by("pk"))
    allow_fixes(len(rows) + 5)
    _launched(campaign, triager, django_capture_on_commit_callbacks)
    claimed_at = timezone.now() - services.STARTING_STALE_AFTER - timedelta(seconds=30)
    made_before_death, never_sent = rows[0], rows[1]
    CampaignRepository.objects.filter(pk__in=[made_before_death.pk, never_sent.pk]).update(
        state=CampaignRepository.State.STARTING, claimed_at=claimed_at, attempts=1
    )
    made = upstream.create_fix(
        repository_id=made_before_death.repository.upstream_id,
        finding_ids=list(made_before_death.findings.values_list("finding__upstream_id", flat=True)),
        title=made_before_death.title,
        instructions=campaign.instructions,
        source_repo=made_before_death.source_repo,
    )
    before = sandbox_fixes()

    result = services.campaign_launch_run(campaign_id=campaign.pk, concurrency=1)

    assert result.adopted == 1
    assert result.started == len(rows) - 1
    assert sandbox_fixes() == before + len(rows) - 1
    made_before_death.refresh_from_db()
    assert made_before_death.state == CampaignRepository.State.STARTED
    assert made_before_death.fix_upstream_id == made.id
    never_sent.refresh_from_db()
    assert never_sent.state == CampaignRepository.State.STARTED
    assert never_sent.attempts == 2


def test_a_claim_still_fresh_is_left_to_the_worker_that_holds_it(
    campaign, triager, allow_fixes, sandbox_fixes, django_capture_on_commit_callbacks
):
    rows = list(campaign.repositories.order_by("pk"))
    allow_fixes(len(rows))
    _launched(campaign, triager, django_capture_on_commit_callbacks)
    CampaignRepository.objects.filter(pk=rows[0].pk).update(
        state=CampaignRepository.State.STARTING, claimed_at=timezone.now()
    )
    before = sandbox_fixes()
    result = services.campaign_launch_run(campaign_id=campaign.pk, concurrency=1)
    assert result.started == len(rows) - 1 and sandbox_fixes() == before + len(rows) - 1
    rows[0].refresh_from_db()
    assert rows[0].state == CampaignRepository.State.STARTING


def test_failed_starts_are_retried_once_the_quota_allows(
    campaign,
    triager,
    allow_fixes,
    demo_org,
    sandbox_fixes,
    django_capture_on_commit_callbacks,
):
    rows = campaign.repositories.count()
    allow_fixes(rows)
    _launched(campaign, triager, django_capture_on_commit_callbacks)
    # Someone else used the quota up between the launch and its task.
    Organization.objects.filter(pk=demo_org[0].pk).update(prs_plan=0, prs_topup=0)
    before = sandbox_fixes()
    result = services.campaign_launch_run(campaign_id=campaign.pk, concurrency=1)
    assert (result.started, result.failed) == (0, rows)
    assert sandbox_fixes() == before
    failed = CampaignRepository.objects.filter(campaign=campaign, state="failed")
    assert failed.count() == rows and all(row.error for row in failed)
    assert set(campaign.findings.values_list("state", flat=True)) == {"not_covered"}

    allow_fixes(rows)
    with django_capture_on_commit_callbacks() as callbacks:
        assert services.campaign_retry_failed(campaign=campaign, actor=triager) == rows
    assert len(callbacks) == 1
    result = services.campaign_launch_run(campaign_id=campaign.pk, concurrency=1)
    assert result.started == rows and sandbox_fixes() == before + rows
    with pytest.raises(ServiceError, match="No fix of this campaign failed"):
        services.campaign_retry_failed(campaign=campaign, actor=triager)


def test_cancel_all_running_cancels_each_fix_in_kolega(
    campaign, triager, allow_fixes, upstream, django_capture_on_commit_callbacks
):
    allow_fixes(campaign.repositories.count())
    _launched(campaign, triager, django_capture_on_commit_callbacks)
    services.campaign_launch_run(campaign_id=campaign.pk, concurrency=1)
    outcomes = services.campaign_cancel_running(campaign=campaign, actor=triager)
    assert outcomes and all(outcome.done for outcome in outcomes)
    for row in CampaignRepository.objects.filter(campaign=campaign).select_related("repository"):
        answered = upstream.get_fix(
            repository_id=row.repository.upstream_id, fix_id=row.fix_upstream_id
        )
        assert answered.status == "cancelled"
    assert AuditEvent.objects.filter(action="campaign.cancel_running").exists()


def test_roles_are_checked_by_the_services(campaign, member, connection):
    from triage.models import Role
    from triage.services.errors import RoleRequired

    # Roles include the ones below them: an approver may launch; a viewer only reads.
    for user in (member(Role.VIEWER),):
        with pytest.raises(RoleRequired):
            services.campaign_launch(campaign=campaign, actor=user)
        with pytest.raises(RoleRequired):
            services.campaign_create(
                team=connection.team,
                actor=user,
                name="Not allowed",
                instructions="x",
                selection=services.CampaignSelection(severities=["high"]),
            )
    assert Campaign.objects.count() == 1


def test_new_matching_findings_join_a_following_campaign(campaign, connection):
    Campaign.objects.filter(pk=campaign.pk).update(follow_new=True)
    campaign.refresh_from_db()
    taken = set(campaign.findings.values_list("finding_id", flat=True))
    left_out = (
        Finding.objects.filter(team=connection.team, scan_type="semgrep_scan")
        .unresolved()
        .filter(pk__in=taken)
        .first()
    )
    CampaignFinding.objects.filter(campaign=campaign, finding=left_out).delete()
    assert services.campaign_findings_follow(campaign=campaign) == 1
    joined = CampaignFinding.objects.get(campaign=campaign, finding=left_out)
    assert joined.followed and joined.campaign_repository is not None
    assert services.campaign_findings_follow(campaign=campaign) == 0


def test_the_plan_fragment_names_the_fixes_that_will_not_fit(
    campaign, triager, team, allow_fixes, client_as
):
    from tests.pages import team_url

    allow_fixes(campaign.repositories.count() - 1)
    client = client_as(triager)
    url = team_url("campaigns-quota", team, campaign_id=campaign.pk)
    fragment = client.get(url, HTTP_HX_REQUEST="true")
    body = fragment.content.decode()
    assert fragment.status_code == 200 and 'id="quota-not-fitting"' in body
    assert "1 fix will not fit" in body
    page = client.get(team_url("campaigns-detail", team, campaign_id=campaign.pk))
    assert url in page.content.decode()  # loaded after the page, which never waits for Kolega


def test_a_launch_refused_on_the_page_says_why_and_sends_nothing(
    campaign, triager, team, demo_org, client_as, sandbox_fixes, request_log
):
    from tests.pages import team_url

    Organization.objects.filter(pk=demo_org[0].pk).update(prs_plan=0, prs_topup=0)
    before = sandbox_fixes()
    response = client_as(triager).post(
        team_url("campaigns-detail", team, campaign_id=campaign.pk), {"action": "launch"}
    )
    assert response.status_code == 400
    assert "Nothing was sent to Kolega" in response.content.decode()
    assert request_log.posts == [] and sandbox_fixes() == before


def test_a_launch_from_the_page_queues_the_launch_once(
    campaign, triager, team, allow_fixes, client_as, monkeypatch, django_capture_on_commit_callbacks
):
    from tests.pages import team_url
    from triage import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.launch_campaign, "delay", queued.append)
    allow_fixes(campaign.repositories.count())
    url = team_url("campaigns-detail", team, campaign_id=campaign.pk)
    client = client_as(triager)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"action": "launch"}).status_code == 302
        again = client.post(url, {"action": "launch"})
    assert queued == [campaign.pk]
    assert again.status_code == 400  # the fixes are already starting: refused, not queued
    assert "already starting" in again.content.decode()
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.LAUNCHED


def test_findings_that_join_after_launch_are_a_new_round_launched_again(
    campaign, triager, connection, allow_fixes, sandbox_fixes, django_capture_on_commit_callbacks
):
    Campaign.objects.filter(pk=campaign.pk).update(follow_new=True)
    campaign.refresh_from_db()
    late = campaign.findings.order_by("pk").last()
    late_finding = late.finding
    late.delete()
    allow_fixes(campaign.repositories.count() + 1)
    _launched(campaign, triager, django_capture_on_commit_callbacks)
    services.campaign_launch_run(campaign_id=campaign.pk, concurrency=1)
    campaign.refresh_from_db()
    assert "no planned fix" in services.campaign_launch_refusal(campaign)

    assert services.campaign_findings_follow(campaign=campaign) == 1
    (second,) = campaign.repositories.filter(round=2)
    assert second.state == CampaignRepository.State.PLANNED
    assert list(second.findings.values_list("finding", flat=True)) == [late_finding.pk]
    assert services.campaign_launch_refusal(campaign) is None
    before = sandbox_fixes()
    _launched(campaign, triager, django_capture_on_commit_callbacks)
    assert services.campaign_launch_run(campaign_id=campaign.pk, concurrency=1).started == 1
    assert sandbox_fixes() == before + 1
