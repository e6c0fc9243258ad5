"""Applying a team's ownership rules to its mirrored findings, in bulk.

Called by the sync for the findings a page wrote (`findings_write`) and by the evaluation
task over every finding after the rules change. Findings a person assigned
(`owner_explicit`) are left alone. Rows are read in key order, a chunk at a time (only the
columns the rules read), each path is matched once against one regular expression combining
the rules of its repository, and only the findings whose owner changes are written: one
statement per chunk on PostgreSQL (UPDATE ... FROM VALUES), one per distinct owner of the
chunk elsewhere, each chunk in a transaction of its own. Memory stays bounded and the number
of queries grows with the chunks, whatever the team's size and the number of rules.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction

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
    # Per scope ("" for repositories no path rule names): the path rules that apply, combined.
    _matchers: dict[str, _Matcher] = field(default_factory=dict, init=False, repr=False)

    def __bool__(self) -> bool:
        return bool(self.paths or self.repositories)

    def owner_of(self, *, repository_name: str, file_path: str) -> Owner:
        """The last matching path rule's owner, else the repository's, else no owner."""
        owner = self._matcher(repository_name).owner_of(normalized_path(file_path))
        if owner is not None:
            return owner
        return self.repositories.get(repository_name, NO_OWNER)

    def _matcher(self, repository_name: str) -> _Matcher:
        if not self._matchers:
            scopes = {scope for _, scope, _ in self.paths if scope}
            self._matchers[""] = _Matcher.of(self.paths, "")
            for scope in scopes:
                self._matchers[scope] = _Matcher.of(self.paths, scope)
        return self._matchers.get(repository_name) or self._matchers[""]


@dataclass(frozen=True)
class _Matcher:
    """The path rules of one repository as one regular expression: the rules in reverse
    order, each a group of its own, so the first alternative that matches (the one `re`
    reports) is the last matching rule, found in one call rather than one per rule."""

    regex: re.Pattern[str] | None
    owners: tuple[Owner, ...]
    # Each rule's own regex, in reverse order: used when the combined one could not be made.
    rules: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def of(cls, paths: list[tuple[re.Pattern[str], str, Owner]], scope: str) -> _Matcher:
        applying = [
            (regex, owner) for regex, rule_scope, owner in paths if rule_scope in ("", scope)
        ]
        applying.reverse()
        owners = tuple(owner for _, owner in applying)
        if not applying:
            return cls(None, owners)
        combined = re.compile("|".join(f"({regex.pattern})" for regex, _ in applying))
        if combined.groups != len(applying):  # a rule's regex holds a group of its own
            return cls(None, owners, tuple(regex for regex, _ in applying))
        return cls(combined, owners)

    def owner_of(self, path: str) -> Owner | None:
        if self.regex is not None:
            match = self.regex.match(path)
            return None if match is None else self.owners[match.lastindex - 1]
        for regex, owner in zip(self.rules, self.owners, strict=True):
            if regex.match(path):
                return owner
        return None


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
        moves: list[tuple[int, int | None, int | None]] = []
        for pk, repository_name, file_path, member_id, squad_id in chunk:
            owner = rules.owner_of(repository_name=repository_name, file_path=file_path)
            if owner != (member_id, squad_id):
                moves.append((pk, *owner))
        if moves:
            changed += _owners_write(moves)
        done += len(chunk)
        if progress is not None:
            progress(done, changed)
    return changed


def _owners_write(moves: list[tuple[int, int | None, int | None]]) -> int:
    """Write (pk, owner member id, owner squad id) for a chunk's findings in one transaction;
    answer how many were written. The explicit flag is read again: an assignment made
    meanwhile wins."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql":
            if outermost:
                # Owners are worked out from the rules again by any later pass, so a chunk's
                # commit need not wait for its WAL to reach the disk: a crash right after it
                # loses at most the last chunks' owners, never a finding, and the next durable
                # commit (the evaluation's end) flushes every chunk before it. A caller's
                # transaction (a sync page) keeps its own durability.
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            return _owners_write_values(moves)
        by_owner: dict[Owner, list[int]] = defaultdict(list)
        for pk, member_id, squad_id in moves:
            by_owner[member_id, squad_id].append(pk)
        return sum(
            Finding.objects.filter(pk__in=pks, owner_explicit=False).update(
                owner_member_id=member_id, owner_squad_id=squad_id
            )
            for (member_id, squad_id), pks in by_owner.items()
        )


def _owners_write_values(moves: list[tuple[int, int | None, int | None]]) -> int:
    """PostgreSQL: the chunk's new owners in one UPDATE ... FROM (VALUES ...)."""
    meta = Finding._meta
    pk, member, squad, explicit = (
        meta.get_field(name) for name in ("id", "owner_member", "owner_squad", "owner_explicit")
    )
    quote = connection.ops.quote_name
    row = f"(%s::{pk.db_type(connection)}, %s::{member.db_type(connection)}, " + (
        f"%s::{squad.db_type(connection)})"
    )
    sql = (
        f"UPDATE {quote(meta.db_table)} AS finding "
        f"SET {quote(member.column)} = owner.member_id, {quote(squad.column)} = owner.squad_id "
        f"FROM (VALUES {', '.join([row] * len(moves))}) AS owner (id, member_id, squad_id) "
        f"WHERE finding.{quote(pk.column)} = owner.id AND NOT finding.{quote(explicit.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for move in moves for value in move])
        return cursor.rowcount


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
        if len(chunk) < CHUNK:  # the last one: no need to ask for more
            return


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
