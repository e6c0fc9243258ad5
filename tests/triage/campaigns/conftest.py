"""A team connected to the sandbox's demo organization, synced, and campaigns over its open
code findings, launched through the portal's own services."""

import httpx
import pytest

from sandbox.models import Fix as SandboxFix
from sandbox.models import Organization
from tests.triage.fixes.conftest import connection, queued
from triage.clients import override_transport
from triage.models import Campaign
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
