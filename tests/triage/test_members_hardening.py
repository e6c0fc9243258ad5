"""Membership changes under concurrency, and what adding a member reveals about other users."""

import contextlib
import threading

import pytest
from django.db import connection
from django.urls import reverse

from tests.factories import TeamFactory, UserFactory
from triage.models import AuditEvent, Membership, Role
from triage.services import teams as team_services
from triage.services.errors import ServiceError


def test_adding_a_missing_or_inactive_user_answers_the_same(team, member, client_as):
    client = client_as(member(Role.ADMIN))
    UserFactory(username="zed-dormant", is_active=False)
    url = reverse("settings-members", kwargs={"team_slug": team.slug})

    missing = client.post(url, {"action": "add", "username": "zed-missing", "role": "viewer"})
    inactive = client.post(url, {"action": "add", "username": "zed-dormant", "role": "viewer"})

    assert missing.status_code == inactive.status_code == 400
    for response, name in ((missing, "zed-missing"), (inactive, "zed-dormant")):
        body = response.content.decode().replace(f'value="{name}"', "")
        assert "No user can be added with that name." in body
        assert name not in body
    assert not Membership.objects.filter(team=team, user__username="zed-dormant").exists()
    assert not AuditEvent.objects.exists()


def test_an_active_user_is_still_added(team, member, client_as):
    client = client_as(member(Role.ADMIN))
    UserFactory(username="newcomer")
    url = reverse("settings-members", kwargs={"team_slug": team.slug})

    client.post(url, {"action": "add", "username": "newcomer", "role": "viewer"})

    assert Membership.objects.get(team=team, user__username="newcomer").role == Role.VIEWER


def test_two_admins_demoting_each_other_at_once_leave_one_admin(transactional_db, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serialises every write anyway")
    team = TeamFactory()
    ada, bob = UserFactory(username="ada"), UserFactory(username="bob")
    Membership.objects.create(team=team, user=ada, role=Role.ADMIN)
    Membership.objects.create(team=team, user=bob, role=Role.ADMIN)

    # Before the admin rows were locked on purpose, only the join that Membership's default
    # ordering adds to a locking query (it locked the team row too) kept this safe; with that
    # ordering gone, the unlocked check lets both demotions through.
    # Hold each change open after its check until the other has made its own, so that both
    # checks run before either commits unless a lock makes the second one wait.
    both_checked = threading.Barrier(2)
    audit_log = team_services.audit_log

    def audit_log_after_the_other(**kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):
            both_checked.wait(timeout=3)
        return audit_log(**kwargs)

    monkeypatch.setattr(team_services, "audit_log", audit_log_after_the_other)
    outcomes = {}

    def demote(actor, other):
        try:
            team_services.member_set(team=team, actor=actor, username=other, role=Role.TRIAGER)
            outcomes[other] = "demoted"
        except ServiceError as exc:
            outcomes[other] = exc.message
        finally:
            connection.close()

    threads = [
        threading.Thread(target=demote, args=(ada, "bob")),
        threading.Thread(target=demote, args=(bob, "ada")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes.values()) == ["A team keeps at least one admin.", "demoted"]
    assert Membership.objects.filter(team=team, role=Role.ADMIN).count() == 1
