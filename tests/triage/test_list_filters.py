"""List pages built the same way: selector queryset → FilterSet → table → the page, or for htmx
the table's partial; the filter form is the FilterSet's own, every filter in the URL."""

import pytest

from tests.factories import FixFactory, RepositoryFactory
from tests.pages import HTMX, team_url
from triage.models import AuditEvent, Role

pytestmark = pytest.mark.django_db


def test_fixes_filter_by_status_as_a_page_and_as_the_tables_fragment(team, member, client_as):
    repository = RepositoryFactory(team=team)
    FixFactory(repository=repository, title="Completed one", status="COMPLETED")
    FixFactory(repository=repository, title="Running one", status="running")
    client = client_as(member(Role.VIEWER))

    page = client.get(team_url("fixes", team), {"status": "completed"}).content.decode()
    fragment = client.get(team_url("fixes", team), {"status": "completed"}, **HTMX)

    assert "<html" in page and 'id="fix-status"' in page  # the form, from the FilterSet
    assert '<option value="completed" selected>Completed</option>' in page
    body = fragment.content.decode()
    assert "<html" not in body and 'id="fixes-table"' in body
    assert "Completed one" in body and "Running one" not in body
    assert "HX-Request" in fragment["Vary"]


def test_an_unknown_fix_status_lists_every_fix(team, member, client_as):
    repository = RepositoryFactory(team=team)
    FixFactory(repository=repository, title="Completed one", status="completed")

    body = client_as(member(Role.VIEWER)).get(team_url("fixes", team), {"status": "x"}).content
    assert b"Completed one" in body


def _event(team, actor, action):
    return AuditEvent.objects.create(
        team=team, actor=actor, actor_label=actor.get_username(), action=action
    )


def test_audit_log_filters_as_a_page_and_as_the_tables_fragment(team, member, client_as):
    admin = member(Role.ADMIN, username="ada")
    other = member(Role.ADMIN, username="bob")
    _event(team, admin, "member.add")
    _event(team, other, "member.remove")
    _event(team, admin, "connection.create")
    client = client_as(admin)

    page = client.get(team_url("settings-audit", team), {"action": "member."}).content.decode()
    fragment = client.get(team_url("settings-audit", team), {"actor": "ada"}, **HTMX)

    assert "<html" in page and 'id="audit-actor"' in page and 'id="audit-action"' in page
    assert '<option value="connection.create">' in page  # the menus offer the team's log
    assert (
        "Member added</td>" in page
        and "Member removed</td>" in page
        and "Connection added</td>" not in page
    )
    body = fragment.content.decode()
    assert "<html" not in body and 'id="audit-table"' in body
    assert "Member added</td>" in body and "Member removed</td>" not in body


def test_filter_forms_submit_on_change_through_htmx(team, member, client_as):
    client = client_as(member(Role.ADMIN))

    for name in ("fixes", "scans", "settings-audit"):
        body = client.get(team_url(name, team)).content.decode()
        assert 'hx-trigger="change, submit"' in body, name
        assert "data-autosubmit" not in body, name
