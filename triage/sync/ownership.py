"""Applying a team's ownership rules to its mirrored findings, in bulk.

Called by the sync for the findings a page wrote (`findings_write`) and by the evaluation
task over every finding after the rules change. Findings a person assigned
(`owner_explicit`) are left alone. Rows are read in key order, a chunk at a time, and written
with one UPDATE per distinct owner of the chunk, so memory stays bounded whatever the
team's size.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from triage.codeowners import pattern_regex
from triage.models import Finding, Membership, OwnershipRule
from triage.models.ownership import OWNER_ROLES

CHUNK = 2000

# (owner member id, owner squad id)
Owner = tuple[int | None, int | None]
NO_OWNER: Owner = (None, None)


@dataclass
class TeamRules:
    """A team's rules, compiled once per evaluation."""

    # (regex, repository name or "" for every repository, owner), in position order.
    paths: list[tuple[re.Pattern[str], str, Owner]] = field(default_factory=list)
    repositories: dict[str, Owner] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.paths or self.repositories)

    def owner_of(self, *, repository_name: str, file_path: str) -> Owner:
        """The last matching path rule's owner, else the repository's, else no owner."""
        path = normalized_path(file_path)
        for regex, scope, owner in reversed(self.paths):
            if (not scope or scope == repository_name) and regex.match(path):
                return owner
        return self.repositories.get(repository_name, NO_OWNER)


def normalized_path(file_path: str) -> str:
    """A finding's path relative to its repository's root, as CODEOWNERS patterns read it."""
    path = file_path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def team_rules(*, team_id: int) -> TeamRules:
    rules = TeamRules()
    # A rule naming someone who can no longer own findings (removed, or now below triager)
    # still matches, and gives no owner.
    may_own = set(
        Membership.objects.filter(team_id=team_id, role__in=OWNER_ROLES).values_list(
            "user_id", flat=True
        )
    )
    for rule in OwnershipRule.objects.filter(team_id=team_id).order_by("position", "id"):
        owner = (rule.member_id if rule.member_id in may_own else None, rule.squad_id)
        if rule.kind == OwnershipRule.Kind.REPOSITORY:
            rules.repositories[rule.repository_name] = owner
        else:
            # Stored rules were checked when saved; a pattern that no longer compiles (the
            # syntax grew stricter) matches nothing rather than stopping every evaluation.
            try:
                rules.paths.append((pattern_regex(rule.pattern), rule.repository_name, owner))
            except ValueError:
                continue
    return rules


def owners_evaluate(
    *,
    team_id: int,
    finding_pks: Iterable[int] | None = None,
    rules: TeamRules | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Give the findings (all of the team's when ``finding_pks`` is None) the owner their
    rules say; answer how many changed. ``progress(done, changed)`` is called per chunk."""
    rules = team_rules(team_id=team_id) if rules is None else rules
    done = changed = 0
    for chunk in _chunks(team_id=team_id, finding_pks=finding_pks):
        moves: dict[Owner, list[int]] = defaultdict(list)
        for pk, repository_name, file_path, member_id, squad_id in chunk:
            owner = rules.owner_of(repository_name=repository_name, file_path=file_path)
            if owner != (member_id, squad_id):
                moves[owner].append(pk)
        for (member_id, squad_id), pks in moves.items():
            # The explicit flag is read again: an assignment made meanwhile wins.
            changed += Finding.objects.filter(pk__in=pks, owner_explicit=False).update(
                owner_member_id=member_id, owner_squad_id=squad_id
            )
        done += len(chunk)
        if progress is not None:
            progress(done, changed)
    return changed


def _chunks(*, team_id: int, finding_pks: Iterable[int] | None):
    """The findings the rules decide, a chunk at a time, in key order."""
    base = Finding.objects.filter(team_id=team_id, owner_explicit=False).order_by("pk")
    columns = ("pk", "repository__name", "file_path", "owner_member_id", "owner_squad_id")
    if finding_pks is not None:
        # In chunks of keys too: SQLite caps the number of parameters of one statement.
        pks = sorted(set(finding_pks))
        for start in range(0, len(pks), CHUNK):
            chunk = list(base.filter(pk__in=pks[start : start + CHUNK]).values_list(*columns))
            if chunk:
                yield chunk
        return
    last_pk = 0
    while chunk := list(base.filter(pk__gt=last_pk).values_list(*columns)[:CHUNK]):
        last_pk = chunk[-1][0]
        yield chunk


def owners_release(*, team_id: int, user_id: int) -> int:
    """Someone who can no longer own findings (removed from the team, or now below triager)
    owns none: their assignments are undone and the rules decide again. Answers how many
    findings they owned."""
    pks = list(
        Finding.objects.filter(team_id=team_id, owner_member_id=user_id).values_list(
            "pk", flat=True
        )
    )
    for start in range(0, len(pks), CHUNK):
        Finding.objects.filter(pk__in=pks[start : start + CHUNK]).update(
            owner_member=None, owner_explicit=False
        )
    if pks:
        owners_evaluate(team_id=team_id, finding_pks=pks)
    return len(pks)


def owners_evaluate_written(*, team_id: int, finding_pks: Iterable[int]) -> int:
    """The sync's hook: the findings a page inserted or changed get their rule's owner.
    A team without rules costs one query."""
    rules = team_rules(team_id=team_id)
    if not rules:
        return 0
    return owners_evaluate(team_id=team_id, finding_pks=finding_pks, rules=rules)
