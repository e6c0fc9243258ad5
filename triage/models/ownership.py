"""Who owns which findings: squads of the team's members, the rules that give findings an
owner, and the runs that apply the rules again after they change.

The owner itself is stored on each mirrored finding (`Finding.owner_member`, `owner_squad`,
`owner_explicit`), where filtering by owner is an indexed lookup. Syncs never write those
columns (they are not among the fields a sync upserts), so a sync never loses an owner.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower

from triage.models.teams import Membership, Role, Team, TeamOwnedModel

# The least role that may own findings, and the roles that include it.
OWNER_ROLE = Role.TRIAGER
OWNER_ROLES = [role.value for role in Role if role.includes(OWNER_ROLE)]

# A squad is named in CODEOWNERS as @name: letters, digits, dots, dashes and underscores.
SQUAD_NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*"


def owner_label(*, squad: Squad | None, user) -> str:
    """An owner as CODEOWNERS writes it (@squad or @username), or "No owner"."""
    if squad is not None:
        return f"@{squad.name}"
    if user is not None:
        return f"@{user.get_username()}"
    return "No owner"


class Squad(models.Model):
    """A named group of the team's members that can own findings."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="squads")
    name = models.CharField(max_length=100)
    # Memberships, not users: leaving the team leaves its squads too.
    members = models.ManyToManyField(Membership, blank=True, related_name="squads")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint("team", Lower("name"), name="squad_unique_team_name"),
        ]

    def __str__(self) -> str:
        return self.name


class OwnershipRule(models.Model):
    """A repository → squad, or a path pattern (CODEOWNERS syntax) → squad or member.

    Path rules are read in ``position`` order and the last matching one wins; a finding no
    path rule matches is owned by its repository's rule. A path rule with neither squad nor
    member says "no owner", as a CODEOWNERS line without owners does.
    """

    class Kind(models.TextChoices):
        REPOSITORY = "repository", "Repository"
        PATH = "path", "Path pattern"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="ownership_rules")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # By name rather than by mirror row: a mirror rebuilt from scratch keeps its rules. For a
    # path rule, an optional scope (blank: every repository).
    repository_name = models.CharField(max_length=300, blank=True)
    pattern = models.CharField(max_length=500, blank=True)
    squad = models.ForeignKey(
        Squad, on_delete=models.PROTECT, null=True, blank=True, related_name="rules"
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["team", "position"], name="ownership_rule_team_pos")]

    def __str__(self) -> str:
        target = self.pattern if self.kind == self.Kind.PATH else self.repository_name
        return f"{self.get_kind_display()} {target}"

    @property
    def owner_label(self) -> str:
        return owner_label(squad=self.squad, user=self.member)


class OwnershipEvaluation(TeamOwnedModel):
    """One pass of the rules over every finding of the team, with its progress."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    class Meta:
        # The team's latest pass first: the page shows it.
        indexes = [models.Index(fields=["team", "-created_at"], name="ownership_eval_team")]

    def __str__(self) -> str:
        return f"ownership evaluation {self.pk} of {self.team_id}"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES

    @property
    def percent(self) -> int:
        if not self.total:
            return 100 if self.state == self.State.FINISHED else 0
        return min(100, self.done * 100 // self.total)
