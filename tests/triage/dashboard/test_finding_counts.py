"""The finding counts the database keeps (`FindingCount`, by triggers) against a recount of
the findings, after each kind of write: the sync's merge, a status change, an update of many
rows, deletions by cascade, the folding of the rows of changes."""

import pytest
from django.db.models import Count, Sum

from tests.factories import FindingFactory, RepositoryFactory
from triage.models import Finding, FindingCount, Repository, Role
from triage.selectors.dashboard import open_findings_counts
from triage.services.findings import finding_status_set
from triage.sync import sync_connection_full
from triage.sync.counts import GROUP, finding_counts_compact

pytestmark = pytest.mark.django_db


def kept() -> dict[tuple, int]:
    rows = FindingCount.objects.values_list(*GROUP).annotate(total=Sum("n")).order_by()
    return {row[:-1]: row[-1] for row in rows if row[-1]}


def recounted() -> dict[tuple, int]:
    rows = Finding.objects.values_list(*GROUP).annotate(total=Count("*")).order_by()
    return {row[:-1]: row[-1] for row in rows}


def test_the_counts_equal_a_recount_after_every_kind_of_write(connection, team, member):
    sync_connection_full(connection=connection)
    assert recounted() and kept() == recounted()

    finding = Finding.objects.filter(team=team, status="open").first()
    finding_status_set(
        team=team, actor=member(Role.TRIAGER), finding=finding, status="false_positive"
    )
    assert kept() == recounted()

    Finding.objects.filter(team=team, severity="medium").update(severity="high")
    Finding.objects.filter(team=team, severity="low").update(title="Only the title")
    assert kept() == recounted()

    Repository.objects.filter(team=team).order_by("pk").first().delete()
    assert kept() == recounted()

    rows_before = FindingCount.objects.count()
    folded = finding_counts_compact(team_id=team.pk)
    assert folded > 0
    assert FindingCount.objects.count() == rows_before - folded == len(recounted())
    assert kept() == recounted()

    # A second full sync brings the deleted repository's findings back.
    sync_connection_full(connection=connection)
    assert kept() == recounted()


def test_folding_one_team_leaves_the_others_rows_alone(team, member):
    from tests.factories import TeamFactory

    other = TeamFactory()
    FindingFactory.create_batch(3, repository=RepositoryFactory(team=team))
    FindingFactory.create_batch(2, repository=RepositoryFactory(team=other))
    Finding.objects.filter(team=other).update(status="resolved")
    others = FindingCount.objects.filter(team_id=other.pk).count()

    finding_counts_compact(team_id=team.pk)

    assert FindingCount.objects.filter(team_id=other.pk).count() == others
    assert FindingCount.objects.filter(team_id=team.pk).count() == 1
    assert kept() == recounted()


def test_the_dashboard_counts_open_findings_from_the_kept_counts(team):
    repository = RepositoryFactory(team=team)
    FindingFactory.create_batch(3, repository=repository, severity="critical")
    FindingFactory(repository=repository, severity="critical", status="needs_manual_review")
    FindingFactory.create_batch(2, repository=repository, severity="low", status="resolved")
    gone = FindingFactory(repository=repository, severity="low")
    gone.delete()

    assert sorted(open_findings_counts(team=team)) == [(repository.pk, "critical", 4)]
