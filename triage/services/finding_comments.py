"""Comments on a finding: who may write one, what it may hold, whom it mentions."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction

from triage.models import Finding, FindingComment, Role, Team
from triage.models.comments import mention_names
from triage.services.audit import audit_log
from triage.services.errors import ServiceError
from triage.services.teams import require_role

# Who may write in a finding's thread; everyone in the team reads it. The page offers the
# form by this same role.
COMMENT_ROLE = Role.TRIAGER


def finding_comment_add(*, team: Team, actor, finding: Finding, body: str) -> FindingComment:
    """Add ``body`` to the finding's thread; names after "@" that are members of the team
    are stored as mentions, any other name stays plain text."""
    require_role(team=team, user=actor, role=COMMENT_ROLE)
    if finding.team_id != team.pk:
        raise ServiceError("No such finding.")
    # Browsers send line breaks as CRLF; a limit counts what a person typed.
    body = body.replace("\r\n", "\n").strip()
    if not body:
        raise ServiceError("Write a comment first.", field="body")
    if len(body) > FindingComment.MAX_LENGTH:
        raise ServiceError(
            f"A comment holds at most {FindingComment.MAX_LENGTH:,} characters; "
            f"this one has {len(body):,}.",
            field="body",
        )
    mentioned = _team_members_named(team=team, names=mention_names(body))
    with transaction.atomic():
        comment = FindingComment.objects.create(
            team=team,
            connection_id=finding.connection_id,
            finding_upstream_id=finding.upstream_id,
            author=actor,
            author_label=actor.get_username(),
            body=body,
        )
        comment.mentions.set(mentioned)
        audit_log(
            team=team,
            actor=actor,
            action="finding.comment",
            target=finding,
            details={
                "comment": comment.pk,
                "finding": finding.upstream_id,
                "mentions": sorted(user.get_username() for user in mentioned),
            },
        )
    return comment


def _team_members_named(*, team: Team, names: list[str]) -> list:
    """The team's members among ``names``, whatever the case the writer typed."""
    if not names:
        return []
    wanted = {name.lower() for name in names}
    members = get_user_model().objects.filter(memberships__team=team, is_active=True)
    return [user for user in members if user.get_username().lower() in wanted]
