"""The findings page's owner filters (owner, squad, assigned to me, mine and my squads',
assigned to nobody, no owner) and its SLA-due sort."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import FindingFactory, MembershipFactory, RepositoryFactory
from tests.triage.findings.test_views import _row_ids
from triage.models import Membership, Role, SlaPolicy, Squad

pytestmark = pytest.mark.django_db


def _url(team):
    return reverse("findings", kwargs={"team_slug": team.slug})


@pytest.fixture
def owned(team, member):
    """Findings owned by tess, by tess's squad, by ole, by ole's squad and by nobody."""
    tess = member(Role.TRIAGER, username="tess")
    ole = member(Role.TRIAGER, username="ole")
    backend = Squad.objects.create(team=team, name="backend")
    backend.members.add(Membership.objects.get(team=team, user=tess))
    web = Squad.objects.create(team=team, name="web")
    web.members.add(Membership.objects.get(team=team, user=ole))
    repository = RepositoryFactory(team=team)
    rows = {
        "tess": FindingFactory(repository=repository, owner_member=tess, owner_explicit=True),
        "tess_in_web": FindingFactory(repository=repository, owner_member=tess, owner_squad=web),
        "backend": FindingFactory(repository=repository, owner_squad=backend),
        "ole": FindingFactory(repository=repository, owner_member=ole),
        "web": FindingFactory(repository=repository, owner_squad=web),
        "nobody": FindingFactory(repository=repository),
    }
    return {"tess": tess, "ole": ole, "backend": backend, "web": web, "rows": rows}


def _names(owned, ids) -> set[str]:
    by_pk = {finding.pk: name for name, finding in owned["rows"].items()}
    return {by_pk[pk] for pk in ids}


@pytest.mark.parametrize(
    ("assigned", "expected"),
    [
        ("me", {"tess", "tess_in_web"}),
        ("mine", {"tess", "tess_in_web", "backend"}),
        ("unassigned", {"backend", "web", "nobody"}),
        ("unowned", {"nobody"}),
    ],
)
def test_assigned_filter_reads_the_signed_in_member(team, owned, client_as, assigned, expected):
    response = client_as(owned["tess"]).get(_url(team), {"assigned": assigned})
    assert response.status_code == 200
    assert _names(owned, _row_ids(response)) == expected


def test_owner_and_squad_filters(team, owned, client_as):
    client = client_as(owned["ole"])
    by_owner = client.get(_url(team), {"owner": owned["tess"].pk})
    assert _names(owned, _row_ids(by_owner)) == {"tess", "tess_in_web"}
    by_squad = client.get(_url(team), {"squad": owned["web"].pk})
    assert _names(owned, _row_ids(by_squad)) == {"tess_in_web", "web"}
    both = client.get(_url(team), {"squad": owned["web"].pk, "assigned": "unassigned"})
    assert _names(owned, _row_ids(both)) == {"web"}


def test_another_teams_squad_and_member_are_not_offered_and_are_ignored(
    team, other_team, owned, client_as, member
):
    stranger = member(Role.ADMIN, of=other_team, username="stranger")
    theirs = Squad.objects.create(team=other_team, name="theirs")
    FindingFactory(repository=RepositoryFactory(team=other_team), owner_squad=theirs)
    client = client_as(owned["tess"])
    page = client.get(_url(team)).content.decode()
    assert "@theirs" not in page and ">theirs<" not in page and ">stranger<" not in page
    assert ">backend<" in page and ">ole<" in page
    for query in ({"squad": theirs.pk}, {"owner": stranger.pk}, {"assigned": "everyone"}):
        response = client.get(_url(team), query)
        assert response.status_code == 200
        assert _names(owned, _row_ids(response)) == set(owned["rows"])
        assert "Ignored the filter" in response.content.decode()


def test_sla_sort_puts_the_soonest_deadline_first_with_the_teams_days(team, client_as, member):
    SlaPolicy.objects.create(team=team, critical_days=7, high_days=10, medium_days=90, low_days=1)
    now = timezone.now()
    repository = RepositoryFactory(team=team)
    # Due: critical in 2 days, high in 5 days, low 3 days ago, info never.
    critical = FindingFactory(
        repository=repository, severity="critical", first_detected_at=now - timedelta(days=5)
    )
    high = FindingFactory(
        repository=repository, severity="high", first_detected_at=now - timedelta(days=5)
    )
    low = FindingFactory(
        repository=repository, severity="low", first_detected_at=now - timedelta(days=4)
    )
    info = FindingFactory(
        repository=repository, severity="info", first_detected_at=now - timedelta(days=400)
    )
    client = client_as(member(Role.VIEWER))
    soonest = client.get(_url(team), {"sort": "sla"})
    assert _row_ids(soonest) == [low.pk, critical.pk, high.pk, info.pk]
    page = soonest.content.decode()
    assert "Past SLA" in page and "No SLA" in page
    latest = client.get(_url(team), {"sort": "-sla"})
    assert _row_ids(latest) == [info.pk, high.pk, critical.pk, low.pk]


def _row_html(body: str, finding) -> str:
    start = body.index(f'id="finding-row-{finding.pk}"')
    return body[start : body.index("</tr>", start)]


def test_each_row_shows_its_owner_sla_and_repository(team, client_as, member):
    """The row's cells are worked out per row in Python: the same markup, escaped."""
    SlaPolicy.objects.create(team=team, critical_days=7, high_days=10, medium_days=90, low_days=1)
    now = timezone.now()
    abe = member(Role.TRIAGER, username="abe")
    squad = Squad.objects.create(team=team, name="back<end>")
    repository = RepositoryFactory(team=team, name="pay<ments>")
    by_hand = FindingFactory(
        repository=repository,
        owner_member=abe,
        owner_explicit=True,
        owner_squad=squad,
        severity="low",
        first_detected_at=now - timedelta(days=4),
    )
    by_rule = FindingFactory(
        repository=repository, owner_member=abe, severity="critical", first_detected_at=now
    )
    of_squad = FindingFactory(
        repository=repository, owner_squad=squad, severity="info", title="", check_id="r<1>"
    )
    nobody = FindingFactory(repository=repository, status="resolved", severity="low")
    body = client_as(member(Role.VIEWER)).get(_url(team)).content.decode()

    repository_link = (
        f'<a href="/t/{team.slug}/repositories/{repository.pk}/" data-repository-link>'
        "pay&lt;ments&gt;</a>"
    )
    for finding in (by_hand, by_rule, of_squad, nobody):
        assert repository_link in _row_html(body, finding)
    row = _row_html(body, by_hand)
    assert (
        '<td class="nowrap small" data-owner><span title="Assigned by hand">@abe</span> · '
        '<span class="muted">@back&lt;end&gt;</span></td>'
    ) in row
    due = timezone.localtime(by_hand.first_detected_at + timedelta(days=1))
    assert (
        f'<td class="nowrap small sla-overdue"><time datetime="{due.isoformat()}">'
        f'{due.strftime("%d %b %Y")}</time> <span class="badge">Past SLA</span></td>'
    ) in row
    row = _row_html(body, by_rule)
    assert '<td class="nowrap small" data-owner><span>@abe</span></td>' in row
    assert "Past SLA" not in row and "sla-overdue" not in row
    row = _row_html(body, of_squad)
    assert '<span class="muted">@back&lt;end&gt;</span></td>' in row
    assert '<td class="nowrap small"><span class="muted">No SLA</span></td>' in row
    # A finding without a title is named by its check id.
    assert "data-finding-link>r&lt;1&gt;</a>" in row
    row = _row_html(body, nobody)
    assert '<span class="muted">No owner</span>' in row
    # Resolved: past its due date, but no longer counted against the SLA.
    assert "Past SLA" not in row


def test_the_filters_choices_are_the_teams_own_read_in_one_query(
    team, other_team, member, django_assert_num_queries
):
    from triage.selectors.findings import filter_choices

    zed = RepositoryFactory(team=team, name="zed")
    api = RepositoryFactory(team=team, name="api")
    RepositoryFactory(team=other_team, name="theirs")
    web = Squad.objects.create(team=team, name="web")
    backend = Squad.objects.create(team=team, name="backend")
    theirs = Squad.objects.create(team=other_team, name="their-squad")
    viewer = member(Role.VIEWER, username="vic")
    admin = member(Role.ADMIN, username="ada")
    member(Role.ADMIN, of=other_team, username="stranger")
    # Ada is in web here, and in a squad of the other team she is also a member of.
    web.members.add(Membership.objects.get(team=team, user=admin))
    MembershipFactory(team=other_team, user=admin, role=Role.TRIAGER)
    theirs.members.add(Membership.objects.get(team=other_team, user=admin))

    with django_assert_num_queries(1):
        choices = filter_choices(team_id=team.pk, user=admin)

    assert choices.repositories == [(api.pk, "api"), (zed.pk, "zed")]
    assert choices.squads == [(backend.pk, "backend"), (web.pk, "web")]
    assert choices.members == [(admin.pk, "ada", Role.ADMIN), (viewer.pk, "vic", Role.VIEWER)]
    assert choices.user_squad_ids == [web.pk]
    assert filter_choices(team_id=team.pk, user=viewer).user_squad_ids == []
    assert filter_choices(team_id=team.pk).user_squad_ids == []
