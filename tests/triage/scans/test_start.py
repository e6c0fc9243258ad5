"""Starting scans against the sandbox: quota preview and checks, one batch per repository ×
type mirrored and tracked, per-pair outcomes, refusals that change nothing locally."""

import html
import re
from urllib.parse import parse_qs, urlparse

import pytest

from tests.factories import ScanBatchFactory
from tests.pages import HTMX, team_url
from triage.kolega import KolegaClient
from triage.models import AuditEvent, Repository, Role, ScanBatch
from triage.services import scans as scan_services
from triage.services.errors import RoleRequired, ServiceError

pytestmark = pytest.mark.django_db


def upstream_batches(organization):
    from sandbox.models import ScanBatch as SandboxBatch

    return SandboxBatch.objects.filter(organization=organization)


def set_sast_plan(organization, plan):
    organization.sast_scans_plan = plan
    organization.save(update_fields=["sast_scans_plan"])


def test_start_creates_one_tracked_batch_per_repository_and_type(
    team, connection, scan_org, triager, django_capture_on_commit_callbacks
):
    repositories = list(Repository.objects.filter(team=team).order_by("name")[:2])

    with django_capture_on_commit_callbacks(execute=False) as queued:
        outcomes = scan_services.scan_batches_start(
            team=team,
            actor=triager,
            repository_ids=[r.pk for r in repositories],
            scan_types=["secrets_scan", "semgrep_scan"],
        )

    assert [(o.repository.name, o.scan_type, o.started) for o in outcomes] == [
        (repositories[0].name, "secrets_scan", True),
        (repositories[0].name, "semgrep_scan", True),
        (repositories[1].name, "secrets_scan", True),
        (repositories[1].name, "semgrep_scan", True),
    ]
    upstream = {str(b.id): b for b in upstream_batches(scan_org[0])}
    mirrored = ScanBatch.objects.filter(team=team)
    assert {b.upstream_id for b in mirrored} == set(upstream)
    for batch in mirrored:
        assert batch.scan_type == upstream[batch.upstream_id].scan_type
        assert batch.repository.upstream_id == str(upstream[batch.upstream_id].repository_id)
    audited = AuditEvent.objects.filter(team=team, action="scan.start")
    assert sorted(int(e.target_id) for e in audited) == sorted(b.pk for b in mirrored)
    assert all(e.actor == triager for e in audited)
    assert len(queued) == 4  # one tracking task per batch, queued when the write commits


def test_start_refuses_and_sends_nothing_when_a_quota_would_run_out(
    team, connection, scan_org, triager
):
    organization = scan_org[0]
    set_sast_plan(organization, 3)
    repository_ids = list(Repository.objects.filter(team=team).values_list("pk", flat=True))

    with pytest.raises(ServiceError) as refused:
        scan_services.scan_batches_start(
            team=team,
            actor=triager,
            repository_ids=repository_ids,
            scan_types=["secrets_scan", "sbom_scan"],
        )

    assert "need 6 SAST scans but only 3 remain" in refused.value.message
    assert "The period ends" in refused.value.message
    assert not upstream_batches(organization).exists()
    assert not ScanBatch.objects.filter(team=team).exists()
    assert not AuditEvent.objects.filter(team=team, action="scan.start").exists()


def test_quota_used_up_midway_reports_each_pair_and_keeps_what_started(
    team, connection, scan_org, triager, sandbox_wsgi, monkeypatch
):
    """Someone else draws on the quota between the portal's check and its requests."""
    from tests.conftest import SANDBOX_BASE_URL

    organization, key = scan_org
    set_sast_plan(organization, 6)
    seen = scan_services.quota_balance_get(connection=connection, fresh=True)
    assert seen.sast_scans.remaining == 6
    repositories = list(Repository.objects.filter(team=team).order_by("name"))
    with KolegaClient(base_url=SANDBOX_BASE_URL, api_key=key, transport=sandbox_wsgi) as other:
        for repository in repositories:
            other.create_scan(repository_id=repository.upstream_id, scan_type="sbom_scan")
    monkeypatch.setattr(scan_services, "quota_balance_get", lambda **kwargs: seen)

    outcomes = scan_services.scan_batches_start(
        team=team,
        actor=triager,
        repository_ids=[r.pk for r in repositories],
        scan_types=["secrets_scan", "semgrep_scan"],
    )

    started = [o for o in outcomes if o.started]
    refused = [o for o in outcomes if not o.started]
    assert len(outcomes) == 6 and len(started) == 3 and len(refused) == 3
    assert "quota of SAST scans is used up" in refused[0].error
    assert all("SAST scans" in o.error for o in refused[1:])
    assert ScanBatch.objects.filter(team=team).count() == 3
    assert {b.pk for b in ScanBatch.objects.filter(team=team)} == {o.batch.pk for o in started}
    assert AuditEvent.objects.filter(team=team, action="scan.start").count() == 3


@pytest.mark.parametrize("failure", ["down", "key revoked"])
def test_kolega_failures_change_nothing_locally(team, connection, scan_org, triager, failure):
    from sandbox.services.faults import fault_config_set
    from sandbox.services.organizations import api_key_revoke

    organization = scan_org[0]
    if failure == "down":
        fault_config_set(organization=organization, rate_5xx=1.0)
        expected = "Kolega is unavailable (HTTP 5"
    else:
        api_key_revoke(organization=organization, key_prefix=connection.key_prefix)
        expected = "Kolega rejected this connection's key"
    repository_ids = list(Repository.objects.filter(team=team).values_list("pk", flat=True))

    with pytest.raises(ServiceError) as refused:
        scan_services.scan_batches_start(
            team=team, actor=triager, repository_ids=repository_ids, scan_types=["secrets_scan"]
        )

    assert expected in refused.value.message
    assert not ScanBatch.objects.filter(team=team).exists()
    assert not AuditEvent.objects.filter(team=team, action="scan.start").exists()


def test_viewer_may_not_start_scans(team, connection, member):
    viewer = member(Role.VIEWER)
    repository_ids = list(Repository.objects.filter(team=team).values_list("pk", flat=True))
    with pytest.raises(RoleRequired):
        scan_services.scan_batches_start(
            team=team, actor=viewer, repository_ids=repository_ids, scan_types=["secrets_scan"]
        )


def test_repositories_of_another_team_are_refused(team, other_team, connection, triager):
    foreign = ScanBatchFactory(repository__team=other_team).repository
    with pytest.raises(ServiceError):
        scan_services.scan_batches_start(
            team=team, actor=triager, repository_ids=[foreign.pk], scan_types=["secrets_scan"]
        )


# The form and its quota preview


def test_form_page_renders_without_asking_kolega(team, connection, triager, client_as, monkeypatch):
    def no_call(**kwargs):
        raise AssertionError("the page must not wait for Kolega")

    monkeypatch.setattr(scan_services, "quota_balance_get", no_call)
    response = client_as(triager).get(team_url("scan-new", team))

    body = response.content.decode()
    assert response.status_code == 200 and "<html" in body
    assert (
        team_url("scan-new-quota", team) in body
        and 'hx-trigger="load, change from:#scan-form"' in body
    )
    for repository in Repository.objects.filter(team=team):
        assert repository.name in body


def test_quota_fragment_shows_what_the_choice_takes_and_what_remains(
    team, connection, scan_org, triager, client_as
):
    set_sast_plan(scan_org[0], 10)
    repository_ids = list(Repository.objects.filter(team=team).values_list("pk", flat=True))
    client = client_as(triager)

    response = client.get(
        team_url("scan-new-quota", team),
        {"repositories": repository_ids, "scan_types": ["secrets_scan", "deep_ai_scan"]},
        **HTMX,
    )

    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body
    assert "6 scan batches will be started" in body
    assert "SAST scans" in body and "deep ai scans" in body.lower()
    cells = re.sub(r"\s+", " ", body)
    # SAST scans: this takes 3, 10 of 10 remain, 7 after.
    assert (
        'SAST scans</td><td class="num">3</td><td class="num">10 of 10</td> <td class="num">7</td>'
    ) in cells
    assert 'id="scan-submit" hx-swap-oob="true"' in body and "disabled" not in body


def test_quota_fragment_says_which_counter_is_exhausted_and_disables_submit(
    team, connection, scan_org, triager, client_as
):
    set_sast_plan(scan_org[0], 2)
    repository_ids = list(Repository.objects.filter(team=team).values_list("pk", flat=True))

    response = client_as(triager).get(
        team_url("scan-new-quota", team),
        {"repositories": repository_ids, "scan_types": ["semgrep_scan"]},
        **HTMX,
    )

    body = response.content.decode()
    assert "Not enough SAST scans" in body and "period, which ends" in body
    assert "disabled" in body


def test_quota_balance_is_cached_briefly(team, connection, scan_org, triager, client_as):
    client = client_as(triager)
    client.get(team_url("scan-new-quota", team), **HTMX)
    set_sast_plan(scan_org[0], 1)  # changed upstream; the cached balance still answers
    body = client.get(team_url("scan-new-quota", team), **HTMX).content.decode()
    assert "500 of 500 left" in body

    scan_services.quota_balance_forget(connection=connection)
    body = client.get(team_url("scan-new-quota", team), **HTMX).content.decode()
    assert "1 of 1 left" in body


def test_quota_fragment_reports_kolega_down(team, connection, scan_org, triager, client_as):
    from sandbox.services.faults import fault_config_set

    fault_config_set(organization=scan_org[0], rate_5xx=1.0)
    body = client_as(triager).get(team_url("scan-new-quota", team), **HTMX).content.decode()
    assert "Cannot check the quota" in body and "Kolega is unavailable" in body


def test_quota_fragment_without_htmx_leads_to_the_form(team, connection, triager, client_as):
    response = client_as(triager).get(team_url("scan-new-quota", team))
    assert response.status_code == 302 and response["Location"] == team_url("scan-new", team)


def test_submitting_the_form_starts_batches_and_shows_them_progressing(
    team, connection, scan_org, triager, client_as
):
    client = client_as(triager)
    response = client.post(
        team_url("scan-new", team), {"all_repositories": "on", "scan_types": ["secrets_scan"]}
    )

    assert response.status_code == 302
    location = urlparse(response["Location"])
    assert location.path == team_url("scan-started", team)
    ids = sorted(int(v) for v in parse_qs(location.query)["batch"])
    assert ids == sorted(ScanBatch.objects.filter(team=team).values_list("pk", flat=True))
    assert len(ids) == 3
    page = client.get(response["Location"])
    body = page.content.decode()
    assert "Started 3 scan batches." in body
    assert body.count("<progress") == 3


def test_refused_submission_shows_why_and_starts_nothing(
    team, connection, scan_org, triager, client_as
):
    set_sast_plan(scan_org[0], 0)
    response = client_as(triager).post(
        team_url("scan-new", team), {"all_repositories": "on", "scan_types": ["semgrep_scan"]}
    )

    body = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was started" in body and "only 0 remain" in body
    assert not ScanBatch.objects.filter(team=team).exists()


def test_viewers_get_no_form_and_their_posts_are_refused(team, connection, member, client_as):
    viewer = client_as(member(Role.VIEWER))
    assert viewer.get(team_url("scan-new", team)).status_code == 403
    response = viewer.post(
        team_url("scan-new", team), {"all_repositories": "on", "scan_types": ["secrets_scan"]}
    )
    assert response.status_code == 403
    assert viewer.get(team_url("scan-new-quota", team), **HTMX).status_code == 403
    assert not ScanBatch.objects.filter(team=team).exists()


def test_partial_failure_is_reported_per_pair_on_the_progress_page(
    team, connection, scan_org, triager, client_as, sandbox_wsgi, monkeypatch
):
    from tests.conftest import SANDBOX_BASE_URL

    organization, key = scan_org
    set_sast_plan(organization, 3)
    seen = scan_services.quota_balance_get(connection=connection, fresh=True)
    repositories = list(Repository.objects.filter(team=team).order_by("name"))
    with KolegaClient(base_url=SANDBOX_BASE_URL, api_key=key, transport=sandbox_wsgi) as other:
        other.create_scan(repository_id=repositories[0].upstream_id, scan_type="sbom_scan")
    monkeypatch.setattr(scan_services, "quota_balance_get", lambda **kwargs: seen)

    response = client_as(triager).post(
        team_url("scan-new", team),
        {"all_repositories": "on", "scan_types": ["secrets_scan"]},
        follow=True,
    )

    body = html.unescape(response.content.decode())
    assert "Started 2 scan batches." in body
    assert f"Secrets of {repositories[2].name} was not started." in body
    assert "quota of SAST scans is used up" in body
    assert body.count("<progress") == 2


@pytest.mark.parametrize("value", ["99999999999999999999999", "-9223372036854775809", "x"])
def test_a_repository_value_that_is_no_key_is_a_form_error(
    team, connection, member, client_as, value
):
    response = client_as(member(Role.TRIAGER)).post(
        team_url("scan-new", team), {"repositories": [value], "scan_types": ["secrets_scan"]}
    )

    assert response.status_code == 400
    body = response.content.decode()
    print(re.findall(r"field-error[^<]*</p>|form-errors.*?</div>", body))
    assert "is not a valid value" in body
    assert not ScanBatch.objects.exists()
