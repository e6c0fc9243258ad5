"""Campaigns in the report: per campaign at work in the period, how far its findings of the
report's scope got (selected → fix started → in review → pull request → merged → resolved)
and the time from its launch to its first and median merge.

The figures are the campaign page's own (`triage.selectors.campaigns`), read for every
campaign of the report at once: the same few queries whatever the number of campaigns.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from triage.models import Campaign, CampaignFinding
from triage.selectors.campaigns import UNRESOLVED, CampaignOverview, campaign_overviews
from triage.selectors.reports.scope import ReportScope


@dataclass(frozen=True)
class CampaignReportRow:
    campaign: Campaign
    overview: CampaignOverview

    @property
    def funnel(self) -> list[tuple[str, int]]:
        return self.overview.funnel

    @property
    def first_hours_to_merge(self) -> float | None:
        return self.overview.first_hours_to_merge

    @property
    def median_hours_to_merge(self) -> float | None:
        return self.overview.median_hours_to_merge


def campaign_report(*, scope: ReportScope) -> list[CampaignReportRow]:
    """The campaigns launched before the period's end that were at work in it (launched in
    it, or holding a finding of the scope still open at its start), newest launch first. With
    a repository or an owner, only their findings and the fixes covering them count."""
    narrowed = scope.repository is not None or scope.owner is not None
    findings = scope.findings()
    taken = CampaignFinding.objects.filter(campaign__team=scope.team)
    if narrowed:
        taken = taken.filter(finding__in=findings)
    at_work = taken.filter(
        Q(finding__status__in=UNRESOLVED) | Q(finding__resolved_at__gte=scope.start)
    )
    campaigns = list(
        Campaign.objects.filter(team=scope.team, launched_at__lt=scope.end)
        .filter(Q(launched_at__gte=scope.start) | Q(pk__in=at_work.values("campaign_id")))
        .filter(pk__in=taken.values("campaign_id"))
        .select_related("owner")
        .order_by("-launched_at", "-id")
    )
    overviews = campaign_overviews(campaigns, findings=findings if narrowed else None)
    return [CampaignReportRow(campaign=c, overview=overviews[c.pk]) for c in campaigns]
