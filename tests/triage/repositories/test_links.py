"""Every repository name a page shows links to the repository's page (`repository_link`)."""

import pytest
from django.utils import timezone

from tests.dismissals import dismissal_requested, dismissals_need_approval_set
from tests.factories import FindingFactory, FixApprovalFactory, RepositoryFactory
from tests.pages import team_url
from triage.models import Role, SyncState

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(team, member, repository_activity):
    repository = RepositoryFactory(team=team, name="payments-api")
    SyncState.objects.create(connection=repository.connection, last_success_at=timezone.now())
    finding, batch, fix = repository_activity(repository, severity="critical")
    requester = member(Role.TRIAGER, username="tess")
    FixApprovalFactory(fix=fix, requested_by=requester, note="Please", diff_sha256="a" * 64)
    return repository, finding, batch, fix


PAGES = [
    ("dashboard", {}),
    ("findings", {}),
    ("finding", {"finding_id": 1}),
    ("scans", {}),
    ("scan-batch", {"batch_id": 2}),
    ("fixes", {}),
    ("fixes-detail", {"fix_id": 3}),
    ("approvals", {}),
    ("reports", {}),
    ("reports-sla", {"?kind": "breached"}),
    ("pull-requests", {}),
    ("repositories", {}),
]


@pytest.mark.parametrize("name,ids", PAGES, ids=[name for name, _ in PAGES])
def test_the_repository_name_links_to_its_page(name, ids, world, team, member, client_as):
    repository, finding, batch, fix = world
    objects = {"finding_id": finding.pk, "batch_id": batch.pk, "fix_id": fix.pk}
    kwargs = {key: objects[key] for key in ids if not key.startswith("?")}
    query = {key[1:]: value for key, value in ids.items() if key.startswith("?")}
    client = client_as(member(Role.ADMIN))

    body = client.get(team_url(name, team, **kwargs), query).content.decode()

    link = f'href="/t/{team.slug}/repositories/{repository.pk}/" data-repository-link>payments-api<'
    assert link in body, name


def test_the_dismissal_page_links_each_findings_repository(team, member, client_as, admin):
    repository = RepositoryFactory(team=team, name="payments-api")
    finding = FindingFactory(repository=repository)
    dismissals_need_approval_set(team, admin)
    request = dismissal_requested(
        team, member(Role.TRIAGER), [finding], status="false_positive", reason="Test data"
    )

    body = (
        client_as(admin)
        .get(team_url("approvals-dismissal", team, dismissal_id=request.pk))
        .content.decode()
    )

    assert f'href="/t/{team.slug}/repositories/{repository.pk}/"' in body
