"""Read side of pull requests opened from fixes: the team's list and who asked for each."""

from __future__ import annotations

from django.db.models import QuerySet

from triage.models import AuditEvent, PullRequest, Team


def pull_requests_for_team(*, team: Team) -> QuerySet[PullRequest]:
    """The team's pull requests, newest first, with their fix and repository (not the diff)."""
    return (
        PullRequest.objects.filter(team=team)
        .select_related("fix", "fix__repository")
        .defer("fix__diff")
        .order_by("-created_at", "-id")
    )


def pull_request_openers(pull_requests: list[PullRequest]) -> dict[int, str]:
    """fix id -> who last asked the portal to open its pull requests (from the audit log);
    pull requests opened outside the portal have none."""
    fix_ids = {str(pr.fix_id) for pr in pull_requests}
    if not fix_ids:
        return {}
    events = (
        AuditEvent.objects.filter(
            target_type="fix", action="pull_requests.open_requested", target_id__in=fix_ids
        )
        .order_by("created_at", "id")
        .values_list("target_id", "actor_label")
    )
    # The latest request of each fix wins.
    return {int(target_id): label for target_id, label in events}
