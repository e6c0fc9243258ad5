import random
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from tests import factories
from tests.factories import T0
from triage.models import Finding, Role, Squad, SyncRun

SEVERITY_WEIGHTS = {"critical": 1, "high": 3, "medium": 4, "low": 3}


def make_history(team, *, findings=160, days=95, seed=7):
    """A team with a few repositories and three months of detections and resolutions."""
    rng = random.Random(seed)
    now = timezone.now()
    first = factories.RepositoryFactory(at=T0, team=team, name="payments-api")
    repositories = [first] + [
        factories.RepositoryFactory(at=T0, team=team, name=name, connection=first.connection)
        for name in ("web-storefront", "mobile-backend", "infra-terraform", "auth-service")
    ]
    for repository in repositories[:4]:
        for scan_type, age in (("semgrep_scan", 3), ("secrets_scan", 12), ("sbom_scan", 45)):
            factories.ScanBatchFactory(
                at=T0,
                repository=repository,
                scan_type=scan_type,
                created_at=now - timedelta(days=age + rng.randint(0, 5)),
            )
    severities = list(SEVERITY_WEIGHTS)
    weights = list(SEVERITY_WEIGHTS.values())
    for _ in range(findings):
        repository = rng.choice(repositories)
        severity = rng.choices(severities, weights)[0]
        detected = now - timedelta(days=rng.uniform(0, days))
        resolved = None
        if rng.random() < 0.55:
            resolved = detected + timedelta(days=rng.expovariate(1 / 12))
            if resolved >= now:
                resolved = None
        finding = factories.FindingFactory(
            at=T0,
            repository=repository,
            severity=severity,
            status="resolved" if resolved else "open",
            first_detected_at=detected,
            resolved_at=resolved,
        )
        factories.FindingEventFactory(at=T0, finding=finding, event_timestamp=detected)
        if resolved:
            factories.FindingEventFactory(
                at=T0,
                finding=finding,
                event_type="resolved_auto",
                new_status="resolved",
                event_timestamp=resolved,
            )
    for index in range(6):
        fix = factories.FixFactory(
            at=T0,
            repository=repositories[index % 3],
            created_at=now - timedelta(days=index * 4 + 1),
            status="completed" if index < 5 else "failed",
        )
        if index < 3:
            factories.PullRequestFactory(
                at=T0, fix=fix, merge_status="merged" if index < 2 else "open"
            )
    return repositories


def _keep_quota_reading(connection) -> None:
    """The reading a sync keeps: this month, with the fixes of the last two weeks in it."""
    now = timezone.now()
    start = now - timedelta(days=14, hours=1)
    counter = {"plan": 100, "topup": 20, "used": 0, "remaining": 120}
    balance = {
        "period_start": start.isoformat(),
        "period_end": (start + timedelta(days=30)).isoformat(),
        "prs": {"plan": 10, "topup": 0, "used": 9, "remaining": 1},
        "sast_scans": {**counter, "used": 80, "remaining": 40},
        "deep_ai_scans": counter,
        "repositories": {"max": None, "current": 3},
    }
    SyncRun.objects.create(
        connection=connection,
        team=connection.team,
        kind=SyncRun.Kind.INCREMENTAL,
        status=SyncRun.Status.SUCCEEDED,
        details={"quota": {"read_at": now.isoformat(), "balance": balance}},
    )


def test_reports_page_in_the_browser(
    browser_page, live_server, team, member, sign_in, shot, output_dir, transactional_db
):
    repositories = make_history(team)
    _keep_quota_reading(repositories[0].connection)
    squad = Squad.objects.create(team=team, name="payments")
    Finding.objects.filter(repository=repositories[0]).update(owner_squad=squad)
    user = member(Role.VIEWER, username="manager")
    page = browser_page
    sign_in(page, user)
    page.goto(live_server.url + reverse("reports", kwargs={"team_slug": team.slug}) + "?period=90")
    page.get_by_role("heading", name="Security report").wait_for()
    assert page.locator("svg.chart-svg").count() == 3
    assert page.locator("#h-repos").is_visible()
    shot(page, "reports-90-days")
    funnel = page.locator("section[aria-labelledby='h-funnel']")
    assert funnel.locator("meter.quota-meter").count() == 3
    assert "4 fixes started" in funnel.inner_text()
    funnel.screenshot(path=str(output_dir / "fix-funnel-and-quota.png"))

    owners = page.locator("#report-owners")
    assert "@payments" in owners.inner_text() and "Unowned" in owners.inner_text()
    page.get_by_label("Owner", exact=True).select_option(f"squad:{squad.pk}")
    page.wait_for_url("**owner=squad**")
    page.locator(".report-period", has_text="Owned by @payments").wait_for()
    owners.screenshot(path=str(output_dir / "reports-owner-squad.png"))
    page.get_by_label("Owner", exact=True).select_option("")
    page.locator(".report-period", has_text="Owned by").wait_for(state="detached")

    page.get_by_label("Period").select_option("7")
    page.wait_for_url("**period=7**")
    page.wait_for_function(
        "document.querySelector('.report-period').textContent.includes('7 days')"
    )
    # The filter fields follow the report that was swapped in (once htmx has settled it).
    expect(page.get_by_label("From")).to_have_value(
        (timezone.now().date() - timedelta(days=6)).isoformat()
    )
    shot(page, "reports-7-days")

    page.emulate_media(media="print")
    shot(page, "reports-print")
    page.emulate_media(media="screen")

    page.locator(".stat").first.click()
    page.get_by_role("heading", name="Critical findings past the SLA").wait_for()
    shot(page, "sla-drill-down")
    assert page.console_errors == []  # no CSP violation, no script error
