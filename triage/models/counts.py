"""Finding counts kept by the database itself, for the pages that would otherwise count a
million findings on every view."""

from django.db import models


class FindingCount(models.Model):
    """How many findings a team has per repository, severity and status, kept by triggers on
    the findings table (migration 0033).

    Every statement that inserts, deletes or moves findings between groups adds rows of
    changes here (+n for findings that came into a group, -n for those that left it), in
    its own transaction, whatever wrote it: the sync's COPY merge, a bulk status change, a
    cascade from a deleted repository. A group's count is the sum of its rows, so it is
    exact at every moment, never a cache that can drift; `finding_counts_compact` folds
    the rows into one per group (after each sync and nightly). Ids, not foreign keys: the
    rows of a deleted repository sum to zero and are folded away.
    """

    team_id = models.BigIntegerField()
    repository_id = models.BigIntegerField()
    severity = models.CharField(max_length=20)
    status = models.CharField(max_length=40)
    n = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(
                fields=["team_id", "status", "repository_id", "severity", "n"],
                name="finding_count_group",
            )
        ]

    def __str__(self) -> str:
        group = f"{self.repository_id}/{self.severity}/{self.status}"
        return f"team {self.team_id} {group}: {self.n:+d}"
