"""Asking for findings to be dismissed, through the portal's own service."""

from tests.factories import FindingFactory
from triage.services.approvals import approval_policy_set
from triage.services.dismissals import dismissal_request_create


def dismissal_requested(team, actor, findings, *, status: str, reason: str, **options):
    """Ask, as ``actor`` of ``team``, that ``findings`` get ``status`` for ``reason``;
    ``options`` as the service takes them (``expires_on``). The request, or the refusal raised."""
    return dismissal_request_create(
        team=team,
        actor=actor,
        finding_ids=[f.pk for f in findings],
        status=status,
        reason=reason,
        **options,
    )


def dismissals_need_approval_set(team, admin):
    """Turn approval of dismissals on for ``team``, as its ``admin`` does on the settings page
    (one approval, admins may not approve their own); the policy."""
    return approval_policy_set(
        team=team,
        actor=admin,
        required_approvals=1,
        admins_may_self_approve=False,
        dismissals_require_approval=True,
    )


def false_positive_requests(actor, repository, count: int, *, reason: str) -> list:
    """``count`` requests by ``actor``, each to call one new finding of ``repository`` a false
    positive, for ``reason`` and the request's number."""
    return [
        dismissal_requested(
            repository.team,
            actor,
            [FindingFactory(repository=repository)],
            status="false_positive",
            reason=f"{reason} {n}",
        )
        for n in range(count)
    ]
