"""Findings chosen across repositories start one fix per repository, each through Kolega (the
sandbox) on its own, with each repository's result or refusal told on the page."""

import re

import pytest

from sandbox.models import Fix as SandboxFix
from sandbox.models import Organization
from tests.pages import team_url
from triage.models import Finding, Fix, Role
from triage.services import fixes as fix_services
from triage.services.errors import RoleRequired, ServiceError

pytestmark = pytest.mark.django_db


@pytest.fixture
def findings_of_two_repositories(connection) -> list[Finding]:
    """Two open code findings of one repository and one of another."""
    open_code = Finding.objects.filter(
        team=connection.team, status="open", scan_type="semgrep_scan"
    ).order_by("repository__name", "pk")
    repositories = list(dict.fromkeys(open_code.values_list("repository_id", flat=True)))
    assert len(repositories) >= 2, "the demo organization has findings in several repositories"
    first = list(open_code.filter(repository_id=repositories[0])[:2])
    second = list(open_code.filter(repository_id=repositories[1])[:1])
    return first + second


def _allow_fixes(demo_org, count: int) -> None:
    """Leave the sandbox organization's quota room for ``count`` more fixes."""
    organization = demo_org[0]
    used = SandboxFix.objects.filter(organization=organization).count()
    Organization.objects.filter(pk=organization.pk).update(prs_plan=used + count, prs_topup=0)


def _start_post(findings, plans, *, instructions="Use parameterized queries.") -> dict:
    data = {"finding": [f.pk for f in findings], "instructions": instructions}
    for plan in plans:
        prefix = f"repo-{plan.repository.pk}-"
        data[prefix + "title"] = f"Fix {plan.repository.name}"
        data[prefix + "source_repo"] = plan.source_repos[0]
        data[prefix + "branch"] = ""
    return data


def test_plans_group_the_findings_by_repository(findings_of_two_repositories):
    plans = fix_services.fix_plans(findings=findings_of_two_repositories)
    assert [len(plan.findings) for plan in plans] == [2, 1]
    assert len({plan.repository.pk for plan in plans}) == 2
    for plan in plans:
        assert {f.repository_id for f in plan.findings} == {plan.repository.pk}
        assert plan.source_repos and plan.title


def test_a_selection_over_too_many_repositories_is_refused(
    findings_of_two_repositories, monkeypatch
):
    monkeypatch.setattr(fix_services, "MAX_REPOSITORIES_PER_START", 1)
    with pytest.raises(ServiceError, match="in 2 repositories"):
        fix_services.fix_plans(findings=findings_of_two_repositories)


def test_one_fix_per_repository_is_started_through_kolega(
    findings_of_two_repositories, triager, demo_org, django_capture_on_commit_callbacks
):
    plans = fix_services.fix_plans(findings=findings_of_two_repositories)
    before = SandboxFix.objects.filter(organization=demo_org[0]).count()
    with django_capture_on_commit_callbacks():
        outcomes = fix_services.fixes_start(
            team=triager.memberships.first().team,
            actor=triager,
            instructions="Use parameterized queries.",
            requests=[
                fix_services.FixStartRequest(
                    finding_ids=[f.pk for f in plan.findings],
                    title=plan.title,
                    source_repo=plan.source_repos[0],
                )
                for plan in plans
            ],
        )
    assert all(outcome.started for outcome in outcomes)
    assert SandboxFix.objects.filter(organization=demo_org[0]).count() == before + 2
    for plan, outcome in zip(plans, outcomes, strict=True):
        assert outcome.fix.repository_id == plan.repository.pk
        assert sorted(outcome.fix.finding_ids) == sorted(f.upstream_id for f in plan.findings)


def test_a_viewer_starts_no_fix_in_any_repository(findings_of_two_repositories, member):
    viewer = member(Role.VIEWER)
    plans = fix_services.fix_plans(findings=findings_of_two_repositories)
    with pytest.raises(RoleRequired):
        fix_services.fixes_start(
            team=plans[0].repository.team,
            actor=viewer,
            instructions="x",
            requests=[
                fix_services.FixStartRequest(
                    finding_ids=[f.pk for f in plan.findings],
                    title="t",
                    source_repo=plan.source_repos[0],
                )
                for plan in plans
            ],
        )
    assert not Fix.objects.exists()


def test_the_form_offers_one_fix_per_repository(findings_of_two_repositories, triager, client_as):
    findings = findings_of_two_repositories
    team = findings[0].team
    response = client_as(triager).get(
        team_url("fixes-new", team), {"finding": [f.pk for f in findings]}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "3 findings in 2 repositories: one fix per repository" in body
    # No heading naming one repository above a refusal.
    assert not re.search(r"\d+ findings? in " + re.escape(findings[0].repository.name), body)
    assert "choose findings of one repository" not in body
    for repository in {f.repository for f in findings}:
        assert f'id="fix-repository-{repository.pk}"' in body
        assert f'name="repo-{repository.pk}-title"' in body
    assert "Start 2 fixes" in body


def test_starting_from_the_form_starts_a_fix_in_each_repository(
    findings_of_two_repositories, triager, client_as, django_capture_on_commit_callbacks
):
    findings = findings_of_two_repositories
    team = findings[0].team
    plans = fix_services.fix_plans(findings=findings)
    with django_capture_on_commit_callbacks():
        response = client_as(triager).post(
            team_url("fixes-new", team), _start_post(findings, plans)
        )
    assert response.status_code == 302
    assert response["Location"] == team_url("fixes", team)
    fixes = {fix.repository_id: fix for fix in Fix.objects.filter(team=team)}
    assert set(fixes) == {plan.repository.pk for plan in plans}
    for plan in plans:
        assert fixes[plan.repository.pk].title == f"Fix {plan.repository.name}"


def test_a_refused_repository_is_told_and_kept_while_the_other_starts(
    findings_of_two_repositories,
    triager,
    client_as,
    demo_org,
    django_capture_on_commit_callbacks,
):
    findings = findings_of_two_repositories
    team = findings[0].team
    plans = fix_services.fix_plans(findings=findings)
    first, second = plans
    _allow_fixes(demo_org, 1)  # room for one fix: the second repository's is refused
    client = client_as(triager)
    with django_capture_on_commit_callbacks():
        response = client.post(team_url("fixes-new", team), _start_post(findings, plans))

    body = response.content.decode()
    assert response.status_code == 400
    started = Fix.objects.get(team=team)
    assert started.repository_id == first.repository.pk
    assert f"The fix in {second.repository.name} did not start" in body
    assert "quota of fixes" in body
    assert 'id="fixes-started"' in body and started.title in body
    # Only the refused repository's findings stay chosen, with what was typed for it.
    chosen = {int(v) for v in re.findall(r'name="finding" value="(\d+)"', body)}
    assert chosen == {f.pk for f in second.findings}
    assert f'value="Fix {second.repository.name}"' in body
    assert f'id="fix-repository-{first.repository.pk}"' not in body
    assert "Use parameterized queries." in body

    # Starting again once there is quota starts only the refused one: never a second fix.
    _allow_fixes(demo_org, 1)
    again = {"finding": sorted(chosen), "per_repository": "1"}
    again.update({k: v for k, v in _start_post(findings, [second]).items() if k != "finding"})
    with django_capture_on_commit_callbacks():
        retried = client.post(team_url("fixes-new", team), again)
    assert retried.status_code == 302
    fixes = Fix.objects.filter(team=team)
    assert fixes.count() == 2
    assert {fix.repository_id for fix in fixes} == {first.repository.pk, second.repository.pk}


def test_one_repository_keeps_the_plain_form(connection, open_findings, triager, client_as):
    team = connection.team
    body = (
        client_as(triager)
        .get(team_url("fixes-new", team), {"finding": [f.pk for f in open_findings]})
        .content.decode()
    )
    scope = re.search(r'id="fix-start-scope">(.*?)</p>', body, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", scope) == f"2 findings in {open_findings[0].repository.name}"
    assert "/repositories/" in scope  # the name links to the repository's page
    assert 'name="title"' in body and "per_repository" not in body
    assert "Start fix" in body
