"""Read side of dismissal requests: the inbox's rows, one request, a finding's portal notes."""

from django.db.models import Count, Prefetch, Q, QuerySet

from triage.models import (
    DismissalDecision,
    DismissalRequest,
    DismissalRequestItem,
    Finding,
    FindingNote,
    Team,
)


def dismissals_queue(*, team: Team, statuses) -> QuerySet[DismissalRequest]:
    return (
        DismissalRequest.objects.filter(team=team, status__in=list(statuses))
        .select_related("requested_by")
        .annotate(
            approvals=Count(
                "decisions", filter=Q(decisions__decision=DismissalDecision.Decision.APPROVE)
            )
        )
        .order_by("created_at", "id")
    )


def dismissal_detail(*, team: Team, dismissal_id: int) -> DismissalRequest | None:
    return (
        DismissalRequest.objects.filter(team=team, pk=dismissal_id)
        .select_related("requested_by", "apply_job", "reopen_job")
        .prefetch_related(
            Prefetch("decisions", queryset=DismissalDecision.objects.select_related("approver"))
        )
        .first()
    )


def dismissal_items(*, request: DismissalRequest) -> QuerySet[DismissalRequestItem]:
    return request.items.select_related("finding", "finding__repository").order_by("id")


def finding_notes(*, finding: Finding) -> QuerySet[FindingNote]:
    return FindingNote.objects.filter(finding=finding).order_by("-created_at", "-id")


def pending_dismissal_for(*, finding: Finding) -> DismissalRequest | None:
    return (
        DismissalRequest.objects.filter(
            status=DismissalRequest.Status.PENDING, items__finding=finding
        )
        .select_related("requested_by")
        .first()
    )
