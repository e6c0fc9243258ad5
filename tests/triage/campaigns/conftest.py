"""A team connected to the sandbox's demo organization, synced, and campaigns over its open
code findings, launched through the portal's own services."""

import httpx
import pytest

from sandbox.models import Fix as SandboxFix
from sandbox.models import Organization
from tests.triage.fixes.conftest import connection, queued, run_to_completion
from triage.clients import override_transport
from triage.models import Campaign, Fix
from triage.services import approvals as approval_services
from triage.services import campaigns as services

# The demo organization's connection, synced, and the pull-request openings queued for the
# worker: the fixes' own fixtures.
__all__ = ["connection", "queued"]

CODE_FINDINGS = "scan_type=semgrep_scan"


@pytest.fixture
def allow_fixes(demo_org):
    """``allow_fixes(n)``: leave the sandbox organization's quota room for ``n`` more fixes."""

    def allow(count: int) -> None:
        organization = demo_org[0]
        used = SandboxFix.objects.filter(organization=organization).count()
        Organization.objects.filter(pk=organization.pk).update(prs_plan=used + count, prs_topup=0)

    return allow


@pytest.fixture
def sandbox_fixes(demo_org):
    """How many fixes the sandbox organization holds now."""
    return lambda: SandboxFix.objects.filter(organization=demo_org[0]).count()


@pytest.fixture
def campaign(connection, triager) -> Campaign:
    """A draft campaign of every open code finding of the demo organization."""
    return services.campaign_create(
        team=connection.team,
        actor=triager,
        name="Parameterize every query",
        instructions="Use parameterized queries.",
        selection=services.CampaignSelection(filter_query=CODE_FINDINGS),
        due_date=None,
    )


class RequestLog(httpx.BaseTransport):
    """The sandbox, with every request the portal sends recorded (method and path)."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner
        self.sent: list[tuple[str, str]] = []

    def handle_request(self, request):
        self.sent.append((request.method, request.url.path))
        return self.inner.handle_request(request)

    @property
    def posts(self) -> list[str]:
        return [path for method, path in self.sent if method == "POST"]


@pytest.fixture
def request_log(sandbox_wsgi):
    log = RequestLog(sandbox_wsgi)
    with override_transport(log):
        yield log


@pytest.fixture
def launched(campaign, triager, allow_fixes, sandbox_clock, django_capture_on_commit_callbacks):
    """The campaign launched, every fix started and run to completion with its diff."""
    allow_fixes(campaign.repositories.count() * 3)
    with django_capture_on_commit_callbacks():
        services.campaign_launch(campaign=campaign, actor=triager)
    services.campaign_launch_run(campaign_id=campaign.pk, concurrency=1)
    for fix in Fix.objects.filter(pk__in=campaign.repositories.values("fix")):
        run_to_completion(fix, sandbox_clock)
    return campaign


def approved_fix(fix: Fix, triager, approver, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks():
        approval = approval_services.approval_request(fix=fix, actor=triager)
        approval_services.approval_decide(approval=approval, actor=approver, approve=True)


def fixes_of(campaign) -> list[Fix]:
    order = ("round", "repository__name", "source_repo", "pk")
    ids = campaign.repositories.order_by(*order).values_list("fix_id", flat=True)
    by_id = Fix.objects.in_bulk(list(ids))
    return [by_id[pk] for pk in ids]
