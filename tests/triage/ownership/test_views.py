"""Settings → Ownership and assigning a finding from its page: roles, 404s, messages."""

import pytest
from django.urls import reverse

from tests.factories import FindingFactory, MembershipFactory, RepositoryFactory, UserFactory
from triage.models import AuditEvent, Finding, OwnershipRule, Role, Squad
from triage.services import ownership as services

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(team):
    return reverse("settings-ownership", kwargs={"team_slug": team.slug})


@pytest.fixture
def finding(team):
    return FindingFactory(repository=RepositoryFactory(team=team), file_path="src/app.py")


def _owner_url(finding):
    return reverse(
        "finding-owner", kwargs={"team_slug": finding.team.slug, "finding_id": finding.pk}
    )


def test_an_admin_creates_a_squad_adds_a_member_and_imports_codeowners(
    team, admin, triager, page, client_as
):
    client = client_as(admin)
    client.post(page, {"action": "squad_create", "name": "backend"})
    squad = Squad.objects.get(team=team)
    membership = triager.memberships.get(team=team)
    client.post(
        page, {"action": "squad_member_add", "squad": squad.pk, "membership": membership.pk}
    )

    response = client.post(
        page, {"action": "import", "text": "*.py @backend\n/docs/ @tess\n"}, follow=True
    )

    assert "2 rules imported from CODEOWNERS." in response.content.decode()
    assert list(squad.members.all()) == [membership]
    assert [r.owner_label for r in OwnershipRule.objects.all()] == ["@backend", "@tess"]
    body = client.get(page).content.decode()
    assert "@backend" in body and "Waiting to start applying the rules" in body


def test_a_bad_import_shows_each_line_keeps_the_text_and_saves_nothing(admin, page, client_as):
    text = "*.py @nobody\n[x] @also-nobody\n"

    response = client_as(admin).post(page, {"action": "import", "text": text})

    body = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was imported: 2 lines to correct." in body
    assert "Line 1: @nobody is neither a squad nor a member of Blue Team." in body
    assert "Line 2: &#x27;[x]&#x27;: CODEOWNERS does not support character ranges" in body
    assert "[x] @also-nobody" in body
    assert not OwnershipRule.objects.exists()


def test_a_rule_for_a_viewer_is_refused_in_the_forms_words(team, admin, member, page, client_as):
    viewer = member(Role.VIEWER, username="vic")
    membership = viewer.memberships.get(team=team)

    response = client_as(admin).post(
        page,
        {
            "action": "rule_create",
            "kind": "path",
            "pattern": "*",
            "owner": f"member:{membership.pk}",
        },
    )

    assert response.status_code == 400
    # A viewer is not offered as an owner at all.
    assert "Select a valid choice" in response.content.decode()
    assert not OwnershipRule.objects.exists()


def test_a_viewer_reads_the_page_but_cannot_change_it(team, member, page, client_as):
    viewer = member(Role.VIEWER)
    client = client_as(viewer)

    assert client.get(page).status_code == 200
    assert client.post(page, {"action": "squad_create", "name": "x"}).status_code == 403
    assert not Squad.objects.exists()


def test_another_teams_squads_and_rules_answer_not_found(team, other_team, admin, page, client_as):
    other_admin = MembershipFactory(team=other_team, role=Role.ADMIN, user=UserFactory()).user
    theirs = services.squad_create(team=other_team, actor=other_admin, name="theirs")
    client = client_as(admin)

    response = client.post(page, {"action": "squad_delete", "squad": theirs.pk}, follow=True)

    assert "No such squad." in response.content.decode()
    assert Squad.objects.filter(pk=theirs.pk).exists()
    other_page = reverse("settings-ownership", kwargs={"team_slug": other_team.slug})
    assert client.get(other_page).status_code == 404


def test_the_progress_fragment_polls_while_the_rules_run_and_stops_after(team, admin, client_as):
    url = reverse("settings-ownership-progress", kwargs={"team_slug": team.slug})
    evaluation = services.ownership_evaluation_start(team=team, actor=admin)
    client = client_as(admin)

    running = client.get(url, HTTP_HX_REQUEST="true")
    evaluation.state = "finished"
    evaluation.save()
    done = client.get(url, HTTP_HX_REQUEST="true")

    assert running.status_code == 200 and 'hx-trigger="every 2s"' in running.content.decode()
    assert done.status_code == 286 and "every 2s" not in done.content.decode()
    assert client.get(url).status_code == 302


def test_a_triager_claims_assigns_and_unassigns_from_the_finding_page(
    finding, triager, approver, client_as
):
    client = client_as(triager)
    page = reverse("finding", kwargs={"team_slug": finding.team.slug, "finding_id": finding.pk})

    claimed = client.post(_owner_url(finding), {"action": "claim"}, follow=True)
    assert "Assigned to you." in claimed.content.decode()
    assert Finding.objects.get(pk=finding.pk).owner_member == triager

    client.post(_owner_url(finding), {"action": "assign", "assignee": approver.pk})
    body = client.get(page).content.decode()
    assert Finding.objects.get(pk=finding.pk).owner_member == approver
    assert 'id="owner-how">Assigned' in body
    assert "tess → abe" in body  # the timeline

    client.post(_owner_url(finding), {"action": "unassign"})
    row = Finding.objects.get(pk=finding.pk)
    assert (row.owner_member, row.owner_explicit) == (None, False)
    assert AuditEvent.objects.filter(action="finding.unassign", actor=triager).exists()


def test_assigning_an_outsider_or_a_viewer_is_refused_with_a_message(
    finding, other_team, triager, member, client_as
):
    viewer = member(Role.VIEWER, username="vic")
    outsider = MembershipFactory(team=other_team, role=Role.ADMIN, user=UserFactory()).user
    client = client_as(triager)

    to_viewer = client.post(
        _owner_url(finding), {"action": "assign", "assignee": viewer.pk}, follow=True
    )
    to_outsider = client.post(
        _owner_url(finding), {"action": "assign", "assignee": outsider.pk}, follow=True
    )
    forged = client.post(
        _owner_url(finding), {"action": "assign", "assignee": "2" * 30}, follow=True
    )

    offered = to_viewer.content.decode().split('id="assignee"')[1].split("</select>")[0]
    assert f'value="{triager.pk}"' in offered
    assert f'value="{outsider.pk}"' not in offered and f'value="{viewer.pk}"' not in offered
    assert "an owner must be at least a Triager" in to_viewer.content.decode()
    assert "Only a member of Blue Team can own a finding" in to_outsider.content.decode()
    assert "Choose whom to assign the finding to." in forged.content.decode()
    assert Finding.objects.get(pk=finding.pk).owner_member is None


def test_a_viewer_cannot_assign_and_sees_no_assign_buttons(finding, member, client_as):
    viewer = member(Role.VIEWER)
    client = client_as(viewer)

    assert client.post(_owner_url(finding), {"action": "claim"}).status_code == 403
    page = reverse("finding", kwargs={"team_slug": finding.team.slug, "finding_id": finding.pk})
    body = client.get(page).content.decode()
    assert 'id="owner"' in body and 'id="claim"' not in body
    assert Finding.objects.get(pk=finding.pk).owner_member is None


def test_another_teams_finding_answers_404(other_team, triager, client_as):
    theirs = FindingFactory(repository=RepositoryFactory(team=other_team))
    client = client_as(triager)
    url = reverse("finding-owner", kwargs={"team_slug": "blue", "finding_id": theirs.pk})

    assert client.post(url, {"action": "claim"}).status_code == 404
    assert Finding.objects.get(pk=theirs.pk).owner_member is None


def test_the_audit_log_tells_assignments_and_rule_changes_in_words(
    team, admin, triager, finding, client_as
):
    services.squad_create(team=team, actor=admin, name="backend")
    services.codeowners_import(team=team, actor=admin, text="*.py @backend\n")
    client_as(triager).post(_owner_url(finding), {"action": "claim"})

    body = client_as(admin).get(reverse("settings-audit", kwargs={"team_slug": team.slug}))
    text = body.content.decode()

    for words in ("Finding assigned", "Assigned to tess", "CODEOWNERS imported", "Imported 1 rule"):
        assert words in text


def test_the_settings_page_reads_in_a_bounded_number_of_queries(
    team, admin, member, page, client_as, django_assert_max_num_queries
):
    client = client_as(admin)

    def grow(count):
        for n in range(count):
            user = member(Role.TRIAGER)
            squad = services.squad_create(team=team, actor=admin, name=f"squad-{n}-{user.pk}")
            services.squad_member_add(
                team=team,
                actor=admin,
                squad_id=squad.pk,
                membership_id=user.memberships.get(team=team).pk,
            )
            services.codeowners_import(team=team, actor=admin, text=f"/s{n}/ @{squad.name}\n")
            services.codeowners_import(team=team, actor=admin, text=f"/u{n}/ @{user.username}\n")

    grow(2)
    with django_assert_max_num_queries(20) as few:
        assert client.get(page).status_code == 200
    grow(8)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(page).status_code == 200
