from django.urls import reverse

from tests.factories import UserFactory
from triage.models import AuditEvent, Membership, Role


def test_admin_adds_changes_and_removes_members_with_an_audit_trail(team, member, client_as):
    admin = member(Role.ADMIN, username="ada")
    UserFactory(username="bob")
    client = client_as(admin)
    url = reverse("settings-members", kwargs={"team_slug": team.slug})

    client.post(url, {"action": "add", "username": "bob", "role": "triager"})
    membership = Membership.objects.get(team=team, user__username="bob")
    client.post(url, {"action": "role", "membership": membership.pk, "role": "approver"})
    membership.refresh_from_db()
    assert membership.role == Role.APPROVER
    client.post(url, {"action": "remove", "membership": membership.pk})

    assert not Membership.objects.filter(team=team, user__username="bob").exists()
    assert list(
        AuditEvent.objects.filter(team=team).order_by("id").values_list("action", flat=True)
    ) == ["member.add", "member.role_change", "member.remove"]
    audit_page = client.get(reverse("settings-audit", kwargs={"team_slug": team.slug}))
    assert "Changed the role from Triager to Approver" in audit_page.content.decode()


def test_unknown_user_and_bad_role_are_clear_errors(team, member, client_as):
    client = client_as(member(Role.ADMIN))
    url = reverse("settings-members", kwargs={"team_slug": team.slug})

    unknown = client.post(url, {"action": "add", "username": "ghost", "role": "viewer"})
    bad_role = client.post(url, {"action": "add", "username": "ghost", "role": "overlord"})

    assert unknown.status_code == 400
    assert "No user can be added with that name" in unknown.content.decode()
    assert bad_role.status_code == 400
    assert "Select a valid choice" in bad_role.content.decode()
    assert not AuditEvent.objects.exists()


def test_the_last_admin_cannot_be_removed_or_demoted(team, member, client_as):
    admin = member(Role.ADMIN)
    client = client_as(admin)
    url = reverse("settings-members", kwargs={"team_slug": team.slug})
    mine = Membership.objects.get(team=team, user=admin)

    response = client.post(
        url, {"action": "role", "membership": mine.pk, "role": "viewer"}, follow=True
    )

    mine.refresh_from_db()
    assert mine.role == Role.ADMIN
    assert "at least one admin" in response.content.decode()


def test_audit_log_filters_by_actor_and_action(team, member, client_as):
    admin = member(Role.ADMIN, username="root-admin")
    AuditEvent.objects.create(team=team, actor_label="someone", action="finding.status")
    AuditEvent.objects.create(team=team, actor_label="root-admin", action="connection.create")
    client = client_as(admin)
    url = reverse("settings-audit", kwargs={"team_slug": team.slug})

    by_actor = client.get(url, {"actor": "someone"})
    by_action = client.get(url, {"action": "connection"})

    assert [e.action for e in by_actor.context["page"]] == ["finding.status"]
    assert [e.action for e in by_action.context["page"]] == ["connection.create"]


def test_audit_log_is_for_admins_only(team, member, client_as):
    url = reverse("settings-audit", kwargs={"team_slug": team.slug})
    assert client_as(member(Role.APPROVER)).get(url).status_code == 403
