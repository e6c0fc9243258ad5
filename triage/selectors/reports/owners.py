"""Findings by owner: per squad, per member and unowned, the open findings by severity, those
past the SLA, and the time to remediate the findings resolved in the period.

A finding owned by a member and a squad counts under both; "Unowned" is a finding with
neither. Open counts come from one grouped pass over the open findings (squad, member,
severity), the same pass as the SLA counts with other columns; time to remediate groups by
squad and by member apart (the unowned ride on the members' groups as the member-less one),
since a median cannot be added up from parts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection as db_connection
from django.db.models import F, Q, Value

from triage.models import Membership, SlaPolicy, Squad, Team
from triage.models.reports import SEVERITIES
from triage.selectors.reports.remediation import (
    Figures,
    duration_days,
    figures_of,
    resolved_in_period,
    with_figures,
)
from triage.selectors.reports.scope import OpenBySeverity, ReportOwner, ReportScope
from triage.selectors.reports.sla import BY_OWNER, OpenStats, open_finding_stats

# (kind, id) of an owner: ("squad", squad id), ("member", user id) or ("none", None).
OwnerKey = tuple[str, int | None]
UNOWNED: OwnerKey = ("none", None)
KIND_ORDER = {"squad": 0, "member": 1, "none": 2}


@dataclass
class OwnerRow(OpenBySeverity):
    owner: ReportOwner
    open_by_severity: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))
    past_sla: int = 0
    resolved: int = 0
    median_days: float | None = None
    p90_days: float | None = None

    @property
    def kind_label(self) -> str:
        return {"squad": "Squad", "member": "Member", "none": "No owner"}[self.owner.kind]


def owner_remediation(scope: ReportScope) -> dict[OwnerKey, Figures]:
    """Owner -> figures of time to remediate the findings resolved in the scope's period, in
    one query: on PostgreSQL the squads' and the members' groups (with the unowned as the
    member-less group) side by side, elsewhere every resolved finding read once."""
    resolved = resolved_in_period(scope)
    if db_connection.vendor != "postgresql":
        durations: dict[OwnerKey, list[float]] = defaultdict(list)
        for squad_id, member_id, first, resolved_at in resolved.values_list(
            "owner_squad_id", "owner_member_id", "first_detected_at", "resolved_at"
        ):
            for key in _owner_keys(squad_id, member_id):
                durations[key].append(duration_days(first, resolved_at))
        return figures_of(durations)
    squads = with_figures(
        resolved.filter(owner_squad__isnull=False)
        .values(owner=F("owner_squad_id"))
        .annotate(kind=Value("squad"))
    )
    members = with_figures(
        resolved.filter(Q(owner_member__isnull=False) | Q(owner_squad__isnull=True))
        .values(owner=F("owner_member_id"))
        .annotate(kind=Value("member"))
    )
    result: dict[OwnerKey, Figures] = {}
    for row in squads.union(members, all=True):
        key = (row["kind"], row["owner"]) if row["owner"] is not None else UNOWNED
        result[key] = (row["count"], row["median"], row["p90"])
    return result


def _owner_keys(squad_id: int | None, member_id: int | None) -> list[OwnerKey]:
    keys: list[OwnerKey] = []
    if squad_id is not None:
        keys.append(("squad", squad_id))
    if member_id is not None:
        keys.append(("member", member_id))
    return keys or [UNOWNED]


def team_owners(team: Team) -> dict[str, ReportOwner]:
    """The owners a report may be narrowed to, by their URL value: no owner, the team's
    squads by name, then its members by username."""
    squads = Squad.objects.filter(team=team).values_list("pk", "name")
    members = (
        Membership.objects.filter(team=team)
        .order_by("user__username")
        .values_list("user_id", "user__username")
    )
    owners = [
        ReportOwner("none"),
        *(ReportOwner("squad", pk, f"@{name}") for pk, name in squads),
        *(ReportOwner("member", pk, f"@{username}") for pk, username in members),
    ]
    return {owner.value: owner for owner in owners}


def owner_breakdown(
    *,
    scope: ReportScope,
    policy: SlaPolicy,
    stats: dict[tuple, OpenStats] | None = None,
    remediation: dict[OwnerKey, Figures] | None = None,
    owners: dict[str, ReportOwner] | None = None,
) -> list[OwnerRow]:
    """One row per squad, per member and for the unowned, squads then members by name.

    Every squad of the team has a row, as does "Unowned"; a member has one when they own a
    finding open now or resolved in the period. With an owner filter, only the owners of the
    narrowed findings (and the chosen owner) have rows. `stats` are the open-finding stats
    `BY_OWNER`, `remediation` `owner_remediation` and `owners` `team_owners`, when the caller
    has them.
    """
    if stats is None:
        stats = open_finding_stats(scope=scope, policy=policy, by=BY_OWNER)
    if remediation is None:
        remediation = owner_remediation(scope)
    if owners is None:
        owners = team_owners(scope.team)
    rows: dict[OwnerKey, OwnerRow] = {}

    def row(key: OwnerKey) -> OwnerRow:
        if key not in rows:
            rows[key] = OwnerRow(ReportOwner(*key))
        return rows[key]

    if scope.owner is None:
        row(UNOWNED)
        for owner in owners.values():
            if owner.kind == "squad":
                row((owner.kind, owner.pk))
    else:
        row((scope.owner.kind, scope.owner.pk))
    for (squad_id, member_id, severity), stat in stats.items():
        for key in _owner_keys(squad_id, member_id):
            target = row(key)
            if severity in target.open_by_severity:
                target.open_by_severity[severity] += stat.open
            target.past_sla += stat.breached
    for key, (resolved, median, p90) in remediation.items():
        target = row(key)
        target.resolved, target.median_days, target.p90_days = resolved, median, p90
    for owner_row in rows.values():
        owner_row.owner = owners.get(owner_row.owner.value) or _former_owner(owner_row.owner)
    return sorted(
        rows.values(),
        key=lambda r: (KIND_ORDER[r.owner.kind], r.owner.label.lower(), r.owner.pk or 0),
    )


def _former_owner(owner: ReportOwner) -> ReportOwner:
    """An owner no longer of the team (a member who left) that findings still name."""
    kind = "Member" if owner.kind == "member" else "Squad"
    return ReportOwner(owner.kind, owner.pk, f"{kind} {owner.pk} (no longer in the team)")


def unowned_open(rows: list[OwnerRow]) -> int | None:
    """Open findings with no owner, when the rows have the unowned one."""
    return next((r.open_total for r in rows if r.owner.kind == "none"), None)
