"""A bulk status job run by the real Celery worker, PATCHing the sandbox over HTTP with
bounded concurrency while it answers some requests with 429 and Retry-After."""

import time

from tests.factories import MembershipFactory, UserFactory
from tests.triage.sync.mirror_equality import mirror_differences
from triage.clients import kolega_outbound_policy
from triage.kolega import KolegaClient, iter_all
from triage.models import AuditEvent, Finding, FindingStatusJob, KolegaConnection, Role
from triage.services.connections import connection_create
from triage.services.findings import finding_status_job_create
from triage.sync import sync_connection_full


def test_worker_runs_a_job_with_rate_limits_and_mirror_matches_kolega(
    live_server, team, celery_worker_process
):
    from sandbox.services.faults import fault_config_clear, fault_config_set
    from sandbox.services.scale import organization_scale_create

    scaled = organization_scale_create(repositories=3, findings=60, slug="scale-worker")
    base_url = live_server.url + "/sandbox"
    admin = MembershipFactory(team=team, role=Role.ADMIN, user=UserFactory(username="ada")).user
    created = connection_create(
        team=team, actor=admin, name="Scale", base_url=base_url, api_key=scaled.api_key
    )
    connection = KolegaConnection.objects.get(pk=created.pk)
    assert sync_connection_full(connection=connection).status == "succeeded"
    findings = list(Finding.objects.filter(connection=connection))
    already = {f.pk for f in findings if f.status == "resolved"}
    fault_config_set(organization=scaled.organization, rate_429=0.3, retry_after_seconds=1, seed=5)

    job = finding_status_job_create(
        team=team, actor=admin, finding_ids=[f.pk for f in findings], status="resolved"
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state == FindingStatusJob.State.FINISHED:
            break
        time.sleep(0.5)
    from sandbox.models import FaultConfig

    requests_seen = FaultConfig.objects.get(organization=scaled.organization).request_counter
    fault_config_clear(organization=scaled.organization)

    assert job.state == "finished"
    assert (job.changed, job.unchanged, job.failed) == (60 - len(already), len(already), 0)
    items = {item.finding_id: item for item in job.items.all()}
    assert {pk for pk, item in items.items() if item.outcome == "unchanged"} == already
    # More requests than findings: some PATCHes were refused with 429 and sent again.
    assert requests_seen > 60
    with KolegaClient(
        base_url=base_url, api_key=scaled.api_key, outbound_policy=kolega_outbound_policy()
    ) as upstream:
        statuses = {
            f.id
            for repository in iter_all(upstream.list_repositories)
            for f in iter_all(upstream.list_findings, repository_id=repository.id)
            if f.status == "resolved"
        }
        assert statuses == {f.upstream_id for f in findings}
        problems = [
            p
            for p in mirror_differences(connection, upstream)
            if p.startswith("finding ") and not p.startswith("finding events")
        ]
    assert problems == []
    assert AuditEvent.objects.filter(
        action="finding.status_change", details__job=job.pk
    ).count() == 60 - len(already)
