"""Squads, rules, CODEOWNERS import, evaluation and assignment, at the service layer."""

import pytest

from tests.factories import FindingFactory, MembershipFactory, RepositoryFactory, UserFactory
from triage import tasks
from triage.models import AuditEvent, Finding, OwnershipEvaluation, OwnershipRule, Role, Squad
from triage.services import ownership as services
from triage.services.errors import RoleRequired, ServiceError

pytestmark = pytest.mark.django_db


def _owners(*findings):
    rows = Finding.objects.filter(pk__in=[f.pk for f in findings]).order_by("pk")
    return [
        (
            row.owner_member.username if row.owner_member else None,
            row.owner_squad.name if row.owner_squad else None,
        )
        for row in rows
    ]


def test_an_import_with_bad_lines_saves_nothing_and_names_each_line(team, admin, member, squads):
    member(Role.VIEWER, username="vic")
    text = (
        "*.py @backend\n"
        "web/ @nobody\n"
        "docs/ @vic\n"
        "!vendor/ @backend\n"
        "api/ @acme/ghosts\n"
        "*.js @frontend\n"
    )

    with pytest.raises(services.CodeownersInvalid) as raised:
        services.codeowners_import(team=team, actor=admin, text=text)

    assert [str(error) for error in raised.value.errors] == [
        "Line 2: @nobody is neither a squad nor a member of Blue Team.",
        "Line 3: @vic is a Viewer; an owner must be at least a Triager.",
        "Line 4: '!vendor/': CODEOWNERS does not support negated patterns (starting with !).",
        "Line 5: @acme/ghosts: Blue Team has no squad named ghosts.",
    ]
    assert not OwnershipRule.objects.exists()
    assert not AuditEvent.objects.filter(action="ownership_rule.import").exists()


def test_an_import_adds_rules_in_order_resolving_squads_members_and_emails(
    team, admin, triager, squads, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr(tasks.evaluate_ownership, "delay", queued.append)
    triager.email = "tess@example.com"
    triager.save()
    text = "* @acme/backend\n*.js @frontend\n/web/legacy/ tess@example.com\n/web/vendor/\n"

    with django_capture_on_commit_callbacks(execute=True):
        rules = services.codeowners_import(team=team, actor=admin, text=text)

    assert [(r.pattern, r.owner_label) for r in OwnershipRule.objects.all()] == [
        ("*", "@backend"),
        ("*.js", "@frontend"),
        ("/web/legacy/", "@tess"),
        ("/web/vendor/", "No owner"),
    ]
    assert len(rules) == 4
    event = AuditEvent.objects.get(action="ownership_rule.import")
    assert event.details["rules"] == 4 and event.actor == admin
    evaluation = OwnershipEvaluation.objects.get()
    assert queued == [evaluation.pk]


def test_evaluation_applies_rules_and_leaves_assigned_findings_alone(
    team, admin, triager, squads, repository_rule
):
    repo = RepositoryFactory(team=team, name="shop")
    other = RepositoryFactory(team=team, connection=repo.connection, name="blog")
    py = FindingFactory(repository=repo, file_path="src/app.py")
    js = FindingFactory(repository=repo, file_path="./web/app.js")
    legacy = FindingFactory(repository=repo, file_path="web/legacy/app.js")
    blog = FindingFactory(repository=other, file_path="README")
    claimed = FindingFactory(repository=repo, file_path="src/claimed.py")
    services.finding_assign(team=team, actor=triager, finding=claimed, assignee_id=triager.pk)
    services.codeowners_import(
        team=team,
        actor=admin,
        text="*.py @backend\n*.js @frontend\n/web/legacy/ @tess\n",
        repository_name="shop",
    )
    repository_rule("blog", squads["backend"])
    evaluation = OwnershipEvaluation.objects.get(state="queued")

    assert tasks.evaluate_ownership(evaluation.pk) == "finished"

    assert _owners(py, js, legacy, blog, claimed) == [
        (None, "backend"),
        (None, "frontend"),
        ("tess", None),
        (None, "backend"),
        ("tess", None),
    ]
    evaluation.refresh_from_db()
    assert (evaluation.total, evaluation.done, evaluation.changed, evaluation.percent) == (
        5,
        5,
        4,
        100,
    )
    assert Finding.objects.get(pk=claimed.pk).owner_explicit
    # A second run of the same task changes nothing.
    assert tasks.evaluate_ownership(evaluation.pk) == "finished"


def test_only_admins_manage_squads_and_rules(team, triager):
    with pytest.raises(RoleRequired):
        services.squad_create(team=team, actor=triager, name="backend")
    with pytest.raises(RoleRequired):
        services.codeowners_import(team=team, actor=triager, text="* @tess\n")


def test_a_squad_that_owns_rules_is_not_deleted(team, admin, squads):
    services.codeowners_import(team=team, actor=admin, text="* @backend\n")

    with pytest.raises(ServiceError, match="owns 1 rule"):
        services.squad_delete(team=team, actor=admin, squad_id=squads["backend"].pk)
    assert Squad.objects.filter(pk=squads["backend"].pk).exists()


def test_squad_members_are_the_teams_only(team, other_team, admin, triager, squads):
    outsider = MembershipFactory(team=other_team, role=Role.ADMIN, user=UserFactory())
    with pytest.raises(ServiceError, match="member of the team"):
        services.squad_member_add(
            team=team, actor=admin, squad_id=squads["backend"].pk, membership_id=outsider.pk
        )
    mine = triager.memberships.get(team=team)
    services.squad_member_add(
        team=team, actor=admin, squad_id=squads["backend"].pk, membership_id=mine.pk
    )
    assert list(squads["backend"].members.all()) == [mine]
    assert AuditEvent.objects.filter(action="squad.member_add", details__member="tess").exists()


def test_assignment_is_refused_to_outsiders_and_viewers_and_by_viewers(
    team, other_team, triager, member
):
    finding = FindingFactory(repository=RepositoryFactory(team=team))
    viewer = member(Role.VIEWER, username="vic")
    outsider = MembershipFactory(team=other_team, role=Role.ADMIN, user=UserFactory()).user

    with pytest.raises(ServiceError, match="Only a member of Blue Team"):
        services.finding_assign(team=team, actor=triager, finding=finding, assignee_id=outsider.pk)
    with pytest.raises(ServiceError, match="vic is a Viewer in Blue Team"):
        services.finding_assign(team=team, actor=triager, finding=finding, assignee_id=viewer.pk)
    with pytest.raises(RoleRequired):
        services.finding_assign(team=team, actor=viewer, finding=finding, assignee_id=triager.pk)
    assert _owners(finding) == [(None, None)]
    assert not AuditEvent.objects.filter(action="finding.assign").exists()


def test_unassigning_gives_the_finding_back_to_its_rule(team, admin, triager, approver, squads):
    finding = FindingFactory(repository=RepositoryFactory(team=team), file_path="src/app.py")
    services.codeowners_import(team=team, actor=admin, text="*.py @backend\n")

    services.finding_assign(team=team, actor=triager, finding=finding, assignee_id=approver.pk)
    assert _owners(finding) == [("abe", None)]
    services.finding_unassign(team=team, actor=triager, finding=finding)

    assert _owners(finding) == [(None, "backend")]
    assert list(
        AuditEvent.objects.filter(target_type="finding", target_id=str(finding.pk))
        .order_by("id")
        .values_list("action", "details__from")
    ) == [("finding.assign", ""), ("finding.unassign", "abe")]


def test_replacing_on_import_drops_only_the_path_rules_of_the_same_scope(team, admin, squads):
    services.codeowners_import(team=team, actor=admin, text="*.py @backend\n")
    services.codeowners_import(
        team=team, actor=admin, text="*.js @frontend\n", repository_name="shop"
    )

    services.codeowners_import(team=team, actor=admin, text="/api/ @backend\n", replace=True)

    assert list(
        OwnershipRule.objects.order_by("position").values_list("pattern", "repository_name")
    ) == [("*.js", "shop"), ("/api/", "")]
    assert AuditEvent.objects.filter(action="ownership_rule.import", details__replaced=1).exists()


def test_a_member_removed_or_made_viewer_owns_nothing_any_more(team, admin, triager, squads):
    from triage.services.teams import member_remove, member_set

    approver = MembershipFactory(team=team, role=Role.APPROVER, user=UserFactory()).user
    repository = RepositoryFactory(team=team)
    by_rule = FindingFactory(repository=repository, file_path="docs/readme.md")
    by_hand = FindingFactory(repository=repository, file_path="src/app.py")
    kept = FindingFactory(repository=repository, file_path="src/kept.py")
    services.codeowners_import(team=team, actor=admin, text="*.py @backend\n*.md @tess\n")
    services.ownership_evaluation_run(evaluation_id=OwnershipEvaluation.objects.get().pk)
    services.finding_assign(team=team, actor=admin, finding=by_hand, assignee_id=triager.pk)
    services.finding_assign(team=team, actor=admin, finding=kept, assignee_id=approver.pk)
    # An assignment by hand keeps the squad the rules gave.
    assert _owners(by_rule, by_hand) == [("tess", None), ("tess", "backend")]

    member_set(team=team, actor=admin, username="tess", role=Role.VIEWER)

    # The hand-made assignment is undone, and the rule naming tess gives no owner now.
    assert _owners(by_rule, by_hand, kept) == [
        (None, None),
        (None, "backend"),
        (approver.username, "backend"),
    ]
    member_remove(team=team, actor=admin, membership_id=approver.memberships.get(team=team).pk)
    assert _owners(kept) == [(None, "backend")]


@pytest.mark.parametrize("name", ["", "two words", "@backend", "-dash", "x" * 101])
def test_a_squad_name_must_be_one_codeowners_can_write(team, admin, name):
    with pytest.raises(ServiceError, match="letters, digits"):
        services.squad_create(team=team, actor=admin, name=name)
    assert not Squad.objects.exists()


def test_squad_names_are_unique_in_a_team_whatever_their_case(team, admin, squads):
    with pytest.raises(ServiceError, match="already has a squad named Backend"):
        services.squad_create(team=team, actor=admin, name="Backend")
