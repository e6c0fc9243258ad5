"""The audit log as an admin reads it: sentences, links to targets, a date range, CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import FindingFactory, FixFactory, RepositoryFactory
from triage.models import AuditEvent, Role
from triage.models.audit import audit_log
from triage.selectors.audit import details_sentence


def _url(team, name="settings-audit"):
    return reverse(name, kwargs={"team_slug": team.slug})


def _event(team, action, *, days_ago=0, **kwargs):
    event = AuditEvent.objects.create(team=team, actor_label="ada", action=action, **kwargs)
    if days_ago:
        AuditEvent.objects.filter(pk=event.pk).update(
            created_at=timezone.now() - timedelta(days=days_ago)
        )
    return event


def test_details_read_as_sentences_with_labels():
    assert (
        details_sentence(
            "finding_status_job.create",
            {"status": "resolved", "findings": 3, "comment": "fixed upstream"},
        )
        == "Changed the status of 3 findings to Resolved: “fixed upstream”"
    )
    assert details_sentence(
        "finding.status_change", {"from": "needs_manual_review", "to": "false_positive"}
    ) == ("Changed the status from Needs manual review to False positive")
    assert (
        details_sentence("member.role_change", {"role": "approver", "previous_role": "viewer"})
        == "Changed the role from Viewer to Approver"
    )


def test_unknown_actions_fall_back_to_a_readable_list():
    sentence = details_sentence(
        "something.new", {"batch_size": 3, "dry_run": True, "repos": ["a", "b"]}
    )
    assert sentence == "Batch size: 3; Dry run: yes; Repos: a, b"
    # A known action whose details have an unexpected shape does not break the page.
    assert details_sentence("finding_status_job.finish", {"changed": "x"}) == (
        "0 findings changed, 0 unchanged, 0 failed"
    )


def test_the_page_shows_sentences_labels_and_links_to_targets(team, admin, client_as, other_team):
    finding = FindingFactory(repository=RepositoryFactory(team=team))
    foreign_fix = FixFactory(repository=RepositoryFactory(team=other_team))
    audit_log(
        team=team,
        actor=admin,
        action="finding.status_change",
        target=finding,
        details={"from": "open", "to": "resolved", "comment": "fixed upstream"},
    )
    # A target id of another team's fix (as if it had been recorded wrongly) is not linked.
    _event(team, "fix.cancel", target_type="fix", target_id=str(foreign_fix.pk), target_label="F")

    body = client_as(admin).get(_url(team)).content.decode()

    assert "Changed the status from Open to Resolved: “fixed upstream”" in body
    assert "Finding status changed" in body
    assert ">finding.status_change<" not in body
    assert "{&#x27;from&#x27;" not in body
    finding_url = reverse("finding", args=[team.slug, finding.pk])
    assert f'<a href="{finding_url}">' in body
    assert reverse("fixes-detail", args=[team.slug, foreign_fix.pk]) not in body
    assert "<td>F</td>" in body


def test_a_deleted_target_is_plain_text(team, admin, client_as):
    fix = FixFactory(repository=RepositoryFactory(team=team))
    audit_log(team=team, actor=admin, action="fix.cancel", target=fix, target_label="Old fix")
    url = reverse("fixes-detail", args=[team.slug, fix.pk])
    assert url in client_as(admin).get(_url(team)).content.decode()

    fix.delete()

    body = client_as(admin).get(_url(team)).content.decode()
    assert url not in body
    assert "Old fix" in body


def test_date_range_filters_inclusively(team, admin, client_as):
    _event(team, "member.add", days_ago=10)
    middle = _event(team, "member.remove", days_ago=5)
    _event(team, "fix.cancel")
    day = (timezone.localdate() - timedelta(days=5)).isoformat()

    response = client_as(admin).get(_url(team), {"date_from": day, "date_to": day})

    assert [e.event.pk for e in response.context["entries"]] == [middle.pk]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"date_from": "yesterday"}, "Ignored the filter From: “yesterday” is not a date."),
        ({"date_to": "2026-02-31"}, "Ignored the filter To: “2026-02-31” is not a date."),
        (
            {"date_from": "2026-03-01", "date_to": "2026-02-01"},
            "Ignored the filter To: “2026-02-01” is earlier than From, so no day could match.",
        ),
        (
            {"date_to": "9999-12-31", "date_from": "0001-01-01"},
            "Ignored the filter To: “9999-12-31” is outside the dates the portal reads",
        ),
        ({"date_from": "2026-01-01"}, None),
        ({"date_from": "x" * 5000}, "is not a date."),
    ],
)
def test_bad_dates_are_reported_not_a_500(team, admin, client_as, params, message):
    _event(team, "member.add")
    response = client_as(admin).get(_url(team), params)
    assert response.status_code == 200
    body = response.content.decode()
    if message:
        assert "Some filters were ignored" in body
        assert message in body
    else:
        assert "Some filters were ignored" not in body
        assert len(response.context["entries"]) == 1


def test_the_table_answers_htmx_with_its_fragment(team, admin, client_as):
    _event(team, "member.add", details={"role": "viewer", "previous_role": None})
    response = client_as(admin).get(_url(team), {"action": "member."}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="audit-table">')
    assert "Added to the team as Viewer" in body


def _csv(response):
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_export_streams_the_filtered_log_and_is_audited(team, admin, client_as):
    _event(team, "member.add", details={"role": "viewer"}, target_label="bob")
    _event(team, "fix.cancel", target_label='=HYPERLINK("http://evil")')
    _event(
        team,
        "finding_status_job.create",
        details={"status": "ignored", "findings": 2, "comment": "+cmd|' /C calc'!A0"},
        target_label="-2+3",
    )
    _event(team, "saved_view.create", target_label="@SUM(A1)", days_ago=30)

    response = client_as(admin).get(
        _url(team, "settings-audit-export"),
        {"date_from": (timezone.localdate() - timedelta(days=1)).isoformat()},
    )

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv"
    rows = _csv(response)
    assert rows[0][:3] == ["when_utc", "actor", "action"]
    by_code = {row[3]: row for row in rows[1:]}
    assert set(by_code) == {"member.add", "fix.cancel", "finding_status_job.create"}
    assert by_code["member.add"][2] == "Member added"
    assert by_code["member.add"][6] == "Added to the team as Viewer"
    assert by_code["fix.cancel"][4] == '\'=HYPERLINK("http://evil")'
    assert by_code["finding_status_job.create"][4] == "'-2+3"
    export = AuditEvent.objects.get(team=team, action="audit.export")
    assert export.actor == admin
    assert export.details["filters"]["date_from"]


def test_csv_cells_that_start_a_formula_are_neutralised(team, admin, client_as):
    _event(team, "something.new", details={"note": "=1+1"}, target_label="@x")
    rows = _csv(client_as(admin).get(_url(team, "settings-audit-export")))
    assert rows[1][4] == "'@x"
    assert all(not cell.startswith(("=", "+", "-", "@")) for cell in rows[1])


def test_csv_export_refuses_bad_filters_and_records_nothing(team, admin, client_as):
    response = client_as(admin).get(_url(team, "settings-audit-export"), {"date_to": "soon"})
    assert response.status_code == 400
    assert "Ignored the filter To: “soon” is not a date." in response.content.decode()
    assert not AuditEvent.objects.filter(action="audit.export").exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TRIAGER, Role.APPROVER])
def test_csv_export_is_for_admins_only(team, member, client_as, role):
    response = client_as(member(role)).get(_url(team, "settings-audit-export"))
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_another_teams_export_is_not_found(team, other_team, member, client_as):
    _event(other_team, "member.add", target_label="secret-victim")
    admin = member(Role.ADMIN)
    assert client_as(admin).get(_url(other_team, "settings-audit-export")).status_code == 404


def test_unknown_actor_and_action_are_reported_not_silently_ignored(team, admin, client_as):
    _event(team, "member.add")
    response = client_as(admin).get(_url(team), {"action": "nope", "actor": "ghost"})
    body = response.content.decode()
    assert "Some filters were ignored" in body
    assert "Ignored the filter Action: “nope” is not one of the choices." in body
    assert "Ignored the filter Actor: “ghost” is not one of the choices." in body
    assert len(response.context["entries"]) == 1
    # A prefix of a real action is a filter, not a mistake.
    prefixed = client_as(admin).get(_url(team), {"action": "member."})
    assert "Some filters were ignored" not in prefixed.content.decode()
