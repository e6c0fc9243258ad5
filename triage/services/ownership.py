"""Ownership: squads, the rules that give findings an owner, CODEOWNERS import, evaluating
the rules again, and assigning a finding to a member by hand.

Squads and rules are the team admin's; assigning is a triager's. Every write is audited.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from triage.codeowners import CodeownersError, codeowners_parse, pattern_regex
from triage.models import (
    Finding,
    Membership,
    OwnershipEvaluation,
    OwnershipRule,
    Role,
    Squad,
    Team,
)
from triage.models.audit import SYSTEM
from triage.models.ownership import OWNER_ROLE, SQUAD_NAME_PATTERN, owner_label
from triage.services.audit import audit_log, audit_log_each
from triage.services.errors import ServiceError
from triage.services.findings import ids_within_cap
from triage.services.teams import require_role
from triage.sync.ownership import owners_evaluate
from triage.task_queue import TaskName, task_send

# Who manages squads and rules, and who assigns findings.
MANAGE_ROLE = Role.ADMIN
ASSIGN_ROLE = Role.TRIAGER
MAX_CODEOWNERS_LINES = 5000
QUEUED_PASS_WAITS = timedelta(minutes=10)
# Assigning a selection is done in the request: at most this many findings at once.
MAX_ASSIGN_FINDINGS = 5_000
ASSIGN_CHUNK = 2_000
# What assigning reads of each finding: its audit entry's label and its previous owner.
ASSIGN_COLUMNS = (
    "id",
    "team_id",
    "upstream_id",
    "check_id",
    "file_path",
    "owner_member_id",
    "owner_explicit",
    "owner_member__username",
)
SQUAD_NAME_MAX_LENGTH = Squad._meta.get_field("name").max_length


class CodeownersInvalid(ServiceError):
    """A CODEOWNERS file with bad lines; nothing of it was saved."""

    def __init__(self, errors: list[CodeownersError]):
        super().__init__(
            f"Nothing was imported: {len(errors)} line{'s' if len(errors) != 1 else ''} "
            "to correct.",
            field="text",
        )
        self.errors = errors


@dataclass(frozen=True)
class RuleOwner:
    """A rule's owner: a squad, a member, or neither ("no owner")."""

    squad: Squad | None = None
    member: Membership | None = None

    @property
    def label(self) -> str:
        return owner_label(squad=self.squad, user=self.member.user if self.member else None)


def _audit(team: Team, actor, action: str, target=None, label: str = "", **details) -> None:
    audit_log(
        team=team, actor=actor, action=action, target=target, target_label=label, details=details
    )


# -- squads -----------------------------------------------------------------------------


def squad_create(*, team: Team, actor, name: str) -> Squad:
    require_role(team=team, user=actor, role=MANAGE_ROLE)
    name = name.strip()
    if not re.fullmatch(SQUAD_NAME_PATTERN, name) or len(name) > SQUAD_NAME_MAX_LENGTH:
        raise ServiceError(
            "A squad's name is letters, digits, dots, dashes and underscores (up to "
            f"{SQUAD_NAME_MAX_LENGTH}), as CODEOWNERS writes @name.",
            field="name",
        )
    if Squad.objects.filter(team=team, name__iexact=name).exists():
        raise ServiceError(f"{team.name} already has a squad named {name}.", field="name")
    try:
        with transaction.atomic():
            squad = Squad.objects.create(team=team, name=name)
            _audit(team, actor, "squad.create", squad)
    except IntegrityError as exc:
        raise ServiceError(f"{team.name} already has a squad named {name}.", field="name") from exc
    return squad


def squad_delete(*, team: Team, actor, squad_id: int) -> Squad:
    require_role(team=team, user=actor, role=MANAGE_ROLE)
    squad = _squad_of(team, squad_id)
    used = OwnershipRule.objects.filter(squad=squad).count()
    if used:
        raise ServiceError(
            f"@{squad.name} owns {used} rule{'s' if used != 1 else ''}: delete "
            f"{'them' if used != 1 else 'it'} first."
        )
    with transaction.atomic():
        _audit(team, actor, "squad.delete", squad)
        # Findings the squad owned lose it here (SET NULL), and the rules run again.
        squad.delete()
        ownership_evaluation_start(team=team, actor=actor)
    return squad


def squad_member_add(*, team: Team, actor, squad_id: int, membership_id: int) -> Membership:
    require_role(team=team, user=actor, role=MANAGE_ROLE)
    squad = _squad_of(team, squad_id)
    membership = Membership.objects.filter(team=team, pk=membership_id).select_related("user")
    return _squad_member_change(team, actor, squad, membership.first(), add=True)


def squad_member_remove(*, team: Team, actor, squad_id: int, membership_id: int) -> Membership:
    require_role(team=team, user=actor, role=MANAGE_ROLE)
    squad = _squad_of(team, squad_id)
    membership = squad.members.filter(pk=membership_id).select_related("user").first()
    return _squad_member_change(team, actor, squad, membership, add=False)


def _squad_member_change(
    team: Team, actor, squad: Squad, membership: Membership | None, *, add: bool
) -> Membership:
    if membership is None:
        raise ServiceError(
            "Choose a member of the team." if add else "That member is not in the squad.",
            field="membership" if add else None,
        )
    with transaction.atomic():
        (squad.members.add if add else squad.members.remove)(membership)
        action = "squad.member_add" if add else "squad.member_remove"
        _audit(team, actor, action, squad, member=membership.user.get_username())
    return membership


def _squad_of(team: Team, squad_id: int) -> Squad:
    squad = Squad.objects.filter(team=team, pk=squad_id).first()
    if squad is None:
        raise ServiceError("No such squad.")
    return squad


# -- rules ------------------------------------------------------------------------------


def rule_owner_choose(*, team: Team, squad_id: int | None, membership_id: int | None) -> RuleOwner:
    """The owner a rule form chose, checked: the team's squad, or a member at least triager."""
    if squad_id is not None:
        return RuleOwner(squad=_squad_of(team, squad_id))
    if membership_id is not None:
        membership = (
            Membership.objects.filter(team=team, pk=membership_id).select_related("user").first()
        )
        if membership is None:
            raise ServiceError("Choose a member of the team.", field="owner")
        _require_owner_role(team, membership, field="owner")
        return RuleOwner(member=membership)
    return RuleOwner()


def rule_create(
    *,
    team: Team,
    actor,
    kind: str,
    owner: RuleOwner,
    pattern: str = "",
    repository_name: str = "",
) -> OwnershipRule:
    """Add a rule after the others (so it wins over every earlier path rule) and run the
    rules again."""
    require_role(team=team, user=actor, role=MANAGE_ROLE)
    kind = OwnershipRule.Kind(kind)
    pattern = pattern.strip()
    repository_name = repository_name.strip()
    if kind == OwnershipRule.Kind.REPOSITORY:
        if not repository_name:
            raise ServiceError("Choose a repository.", field="repository_name")
        if owner.squad is None:
            raise ServiceError("A repository is owned by a squad: choose one.", field="owner")
        pattern = ""
    else:
        try:
            pattern_regex(pattern)
        except ValueError as exc:
            raise ServiceError(f"This pattern cannot be used: {exc}.", field="pattern") from exc
    with transaction.atomic():
        rule = OwnershipRule.objects.create(
            team=team,
            kind=kind,
            pattern=pattern,
            repository_name=repository_name,
            squad=owner.squad,
            member=owner.member.user if owner.member else None,
            position=_next_position(team),
        )
        _audit(team, actor, "ownership_rule.create", rule, **_rule_details(rule, owner.label))
        ownership_evaluation_start(team=team, actor=actor)
    return rule


def rule_delete(*, team: Team, actor, rule_id: int) -> OwnershipRule:
    require_role(team=team, user=actor, role=MANAGE_ROLE)
    rule = (
        OwnershipRule.objects.filter(team=team, pk=rule_id)
        .select_related("squad", "member")
        .first()
    )
    if rule is None:
        raise ServiceError("No such rule.")
    with transaction.atomic():
        _audit(team, actor, "ownership_rule.delete", rule, **_rule_details(rule, rule.owner_label))
        rule.delete()
        ownership_evaluation_start(team=team, actor=actor)
    return rule


def _rule_details(rule: OwnershipRule, owner_label: str) -> dict:
    return {
        "kind": rule.kind,
        "pattern": rule.pattern,
        "repository": rule.repository_name,
        "owner": owner_label,
    }


def _next_position(team: Team) -> int:
    highest = OwnershipRule.objects.filter(team=team).aggregate(top=Max("position"))["top"]
    return 0 if highest is None else highest + 1


def codeowners_import(
    *, team: Team, actor, text: str, repository_name: str = "", replace: bool = False
) -> list[OwnershipRule]:
    """Import a CODEOWNERS file as path rules, in the file's order after the existing rules
    (or instead of the existing path rules of the same scope when ``replace``).

    Every line is checked before anything is saved: one bad line and nothing is imported,
    and ``CodeownersInvalid.errors`` says, per line, what is wrong.
    """
    require_role(team=team, user=actor, role=MANAGE_ROLE)
    text = text.replace("\r\n", "\n")
    if len(text.splitlines()) > MAX_CODEOWNERS_LINES:
        raise ServiceError(
            f"A CODEOWNERS file holds at most {MAX_CODEOWNERS_LINES:,} lines here.", field="text"
        )
    lines, errors = codeowners_parse(text)
    resolver = _OwnerResolver(team)
    owners: list[RuleOwner] = []
    for line in lines:
        owner = RuleOwner()
        if line.owners:
            owner, problem = resolver.resolve(line.owners[0])
            if problem:
                errors.append(CodeownersError(line.number, problem))
        owners.append(owner)
    if errors:
        raise CodeownersInvalid(sorted(errors, key=lambda error: error.number))
    if not lines:
        raise ServiceError("The file has no rule lines: paste a CODEOWNERS file.", field="text")
    repository_name = repository_name.strip()
    with transaction.atomic():
        replaced = 0
        if replace:
            replaced, _ = OwnershipRule.objects.filter(
                team=team, kind=OwnershipRule.Kind.PATH, repository_name=repository_name
            ).delete()
        start = _next_position(team)
        rules = OwnershipRule.objects.bulk_create(
            OwnershipRule(
                team=team,
                kind=OwnershipRule.Kind.PATH,
                pattern=line.pattern,
                repository_name=repository_name,
                squad=owner.squad,
                member=owner.member.user if owner.member else None,
                position=start + index,
            )
            for index, (line, owner) in enumerate(zip(lines, owners, strict=True))
        )
        _audit(
            team,
            actor,
            "ownership_rule.import",
            label="CODEOWNERS",
            rules=len(rules),
            replaced=replaced,
            repository=repository_name,
        )
        ownership_evaluation_start(team=team, actor=actor)
    return rules


class _OwnerResolver:
    """CODEOWNERS owners → the team's squads and members, each looked up once."""

    def __init__(self, team: Team):
        self.team = team
        self.squads = {squad.name.lower(): squad for squad in Squad.objects.filter(team=team)}
        self.members = list(Membership.objects.filter(team=team).select_related("user"))

    def resolve(self, written: str) -> tuple[RuleOwner, str]:
        if written.startswith("@"):
            name = written[1:]
            # @organization/team-name: GitHub's team owners name the squad after the slash.
            squad_name = name.split("/", 1)[-1].lower()
            if squad_name in self.squads:
                return RuleOwner(squad=self.squads[squad_name]), ""
            if "/" in name:
                return RuleOwner(), f"{written}: {self.team.name} has no squad named {squad_name}."
            found = [m for m in self.members if m.user.get_username().lower() == name.lower()]
            what = "neither a squad nor a member of"
        else:
            found = [m for m in self.members if (m.user.email or "").lower() == written.lower()]
            what = "not the email address of a member of"
        if not found:
            return RuleOwner(), f"{written} is {what} {self.team.name}."
        membership = found[0]
        if not membership.has_role(OWNER_ROLE):
            return RuleOwner(), (
                f"{written} is a {Role(membership.role).label}; an owner must be at least a "
                f"{OWNER_ROLE.label}."
            )
        return RuleOwner(member=membership), ""


# -- evaluation -------------------------------------------------------------------------


def ownership_evaluation_start(*, team: Team, actor) -> OwnershipEvaluation:
    """Queue a pass of the rules over every finding of the team (after the transaction).

    One queued pass is enough: a change made while one waits is seen when it runs.
    """
    # A pass queued long ago whose message was lost does not hold the next one back.
    waiting = OwnershipEvaluation.objects.filter(
        team=team,
        state=OwnershipEvaluation.State.QUEUED,
        created_at__gte=timezone.now() - QUEUED_PASS_WAITS,
    ).first()
    if waiting is not None:
        return waiting
    evaluation = OwnershipEvaluation.objects.create(
        team=team, started_by=actor if getattr(actor, "is_authenticated", False) else None
    )
    transaction.on_commit(lambda: task_send(TaskName.EVALUATE_OWNERSHIP, evaluation.pk))
    return evaluation


def ownership_evaluation_run(*, evaluation_id: int) -> OwnershipEvaluation | None:
    """Apply the team's rules to all its findings, recording progress as it goes."""
    with transaction.atomic():
        evaluation = (
            OwnershipEvaluation.objects.select_for_update()
            .filter(pk=evaluation_id)
            .select_related("team")
            .first()
        )
        if evaluation is None or evaluation.state == OwnershipEvaluation.State.FINISHED:
            return evaluation
        evaluation.state = OwnershipEvaluation.State.RUNNING
        evaluation.total = Finding.objects.filter(team=evaluation.team).count()
        evaluation.done = evaluation.changed = 0
        evaluation.save(update_fields=["state", "total", "done", "changed"])

    def progress(done: int, changed: int) -> None:
        OwnershipEvaluation.objects.filter(pk=evaluation_id).update(done=done, changed=changed)

    try:
        changed = owners_evaluate(team_id=evaluation.team_id, progress=progress)
    except Exception as exc:
        OwnershipEvaluation.objects.filter(pk=evaluation_id).update(
            state=OwnershipEvaluation.State.FAILED,
            error=f"The rules could not be applied ({type(exc).__name__}).",
            finished_at=timezone.now(),
        )
        raise
    with transaction.atomic():
        OwnershipEvaluation.objects.filter(pk=evaluation_id).update(
            state=OwnershipEvaluation.State.FINISHED,
            done=evaluation.total,
            changed=changed,
            finished_at=timezone.now(),
        )
        _audit(
            evaluation.team,
            SYSTEM,
            "ownership.evaluate",
            label="Ownership rules",
            findings=evaluation.total,
            changed=changed,
        )
    evaluation.refresh_from_db()
    return evaluation


# -- assignment -------------------------------------------------------------------------


def finding_assign(*, team: Team, actor, finding: Finding, assignee_id: int) -> Finding:
    """Assign the finding to a member by hand; the rules leave it alone from then on."""
    require_role(team=team, user=actor, role=ASSIGN_ROLE)
    if finding.team_id != team.pk:
        raise ServiceError("No such finding.")
    membership = _assignee_of(team, assignee_id)
    with transaction.atomic():
        locked = (
            Finding.objects.select_for_update(of=("self",))
            .select_related("owner_member")
            .get(pk=finding.pk)
        )
        previous = {"from": locked.owner_member.get_username() if locked.owner_member else ""}
        locked.owner_member = membership.user
        locked.owner_explicit = True
        locked.save(update_fields=["owner_member", "owner_explicit"])
        to = membership.user.get_username()
        _audit(team, actor, "finding.assign", locked, finding=locked.upstream_id, to=to, **previous)
    return locked


def finding_unassign(*, team: Team, actor, finding: Finding) -> Finding:
    """Take a hand-made assignment back: the finding's owner is its rules' again."""
    require_role(team=team, user=actor, role=ASSIGN_ROLE)
    if finding.team_id != team.pk:
        raise ServiceError("No such finding.")
    with transaction.atomic():
        locked = (
            Finding.objects.select_for_update(of=("self",))
            .select_related("owner_member")
            .get(pk=finding.pk)
        )
        if not locked.owner_explicit:
            raise ServiceError("Nobody was assigned to this finding by hand.")
        previous = {"from": locked.owner_member.get_username() if locked.owner_member else ""}
        locked.owner_member = None
        locked.owner_explicit = False
        locked.save(update_fields=["owner_member", "owner_explicit"])
        owners_evaluate(team_id=team.pk, finding_pks=[locked.pk])
        locked.refresh_from_db()
        _audit(team, actor, "finding.unassign", locked, finding=locked.upstream_id, **previous)
    return locked


@dataclass(frozen=True)
class BulkAssignment:
    """What assigning a selection did: to whom ("" when given back to the rules), how many
    findings changed, and how many already were so (left alone, not audited)."""

    assignee: str
    changed: int
    unchanged: int


def findings_assign(
    *, team: Team, actor, finding_ids: Iterable[int], assignee_id: int | None
) -> BulkAssignment:
    """Assign the team's findings among ``finding_ids`` (ids, or a queryset of them) to a
    member by hand, or with ``assignee_id`` None take their hand-made assignments back so
    their rules decide again: one transaction, an audit entry per finding that changed
    (the finding's timeline shows it)."""
    require_role(team=team, user=actor, role=ASSIGN_ROLE)
    membership = None if assignee_id is None else _assignee_of(team, assignee_id)
    with transaction.atomic():
        # Locked as one finding's assignment locks it, in key order; only the finding's own
        # row (its owner is on the nullable side of an outer join).
        findings = list(
            Finding.objects.select_for_update(of=("self",))
            .filter(team=team, pk__in=ids_within_cap(finding_ids, MAX_ASSIGN_FINDINGS))
            .select_related("owner_member")
            .only(*ASSIGN_COLUMNS)
            .order_by("pk")[: MAX_ASSIGN_FINDINGS + 1]
        )
        if not findings:
            raise ServiceError("Select at least one finding.")
        if len(findings) > MAX_ASSIGN_FINDINGS:
            raise ServiceError(
                f"One assignment may cover at most {MAX_ASSIGN_FINDINGS:,} findings; narrow "
                "the filters."
            )
        if membership is None:
            changing = [finding for finding in findings if finding.owner_explicit]
        else:
            changing = [
                finding
                for finding in findings
                if not (finding.owner_explicit and finding.owner_member_id == membership.user_id)
            ]
        pks = [finding.pk for finding in changing]
        for start in range(0, len(pks), ASSIGN_CHUNK):
            Finding.objects.filter(pk__in=pks[start : start + ASSIGN_CHUNK]).update(
                owner_member=membership.user if membership else None,
                owner_explicit=membership is not None,
            )
        to = {"to": membership.user.get_username()} if membership else {}
        audit_log_each(
            team=team,
            actor=actor,
            action="finding.assign" if membership else "finding.unassign",
            entries=(
                (finding, {"finding": finding.upstream_id, **to, "from": _username(finding)})
                for finding in changing
            ),
        )
        if membership is None and pks:
            owners_evaluate(team_id=team.pk, finding_pks=pks)
    return BulkAssignment(
        assignee=to.get("to", ""), changed=len(changing), unchanged=len(findings) - len(changing)
    )


def _username(finding: Finding) -> str:
    return finding.owner_member.get_username() if finding.owner_member else ""


def _assignee_of(team: Team, assignee_id: int) -> Membership:
    """The member a finding may be assigned to: the team's, at least triager."""
    membership = (
        Membership.objects.filter(team=team, user_id=assignee_id).select_related("user").first()
    )
    if membership is None:
        raise ServiceError(
            f"Only a member of {team.name} can own a finding: choose one from the list.",
            field="assignee",
        )
    _require_owner_role(team, membership, field="assignee")
    return membership


def _require_owner_role(team: Team, membership: Membership, *, field: str) -> None:
    if not membership.has_role(OWNER_ROLE):
        raise ServiceError(
            f"{membership.user.get_username()} is a {Role(membership.role).label} in "
            f"{team.name}; an owner must be at least a {OWNER_ROLE.label}.",
            field=field,
        )
