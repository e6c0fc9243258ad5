"""Settings → Policies: dismissal approval, fix approval, opening pull requests on approval and
the SLA in one place; members read, admins change, every change audited."""

import pytest
from django.urls import reverse

from triage.models import AuditEvent, Role, SlaPolicy, TeamApprovalPolicy


def _url(team, name="settings-policies"):
    return reverse(name, kwargs={"team_slug": team.slug})


APPROVALS = {
    "action": "approvals",
    "required_approvals": "2",
    "dismissals_require_approval": "on",
    "open_pull_requests_on_approval": "on",
}
SLA = {
    "action": "sla",
    "critical_days": "3",
    "high_days": "14",
    "medium_days": "60",
    "low_days": "120",
}


def test_the_page_holds_every_policy_with_defaults(team, admin, client_as):
    body = client_as(admin).get(_url(team)).content.decode()
    for words in (
        "Approvals a fix needs",
        "Dismissals need approval",
        "Approving opens the pull requests",
        "Critical (days)",
        "Low (days)",
    ):
        assert words in body
    opening = body.split('name="open_pull_requests_on_approval"')[1].split(">")[0]
    assert "checked" not in opening
    assert 'value="7"' in body and 'value="180"' in body


def test_admin_saves_the_approval_policy_and_it_is_audited(team, admin, client_as):
    response = client_as(admin).post(_url(team), APPROVALS)

    assert response.status_code == 302
    policy = TeamApprovalPolicy.objects.get(team=team)
    assert policy.required_approvals == 2
    assert policy.dismissals_require_approval and policy.open_pull_requests_on_approval
    assert not policy.admins_may_self_approve
    event = AuditEvent.objects.get(team=team, action="approval_policy.update")
    assert event.details["open_pull_requests_on_approval"] is True
    assert event.details["open_pull_requests_on_approval_before"] is False
    log = client_as(admin).get(_url(team, "settings-audit")).content.decode()
    assert "approving opens the pull requests" in log


# The SLA form as this page posts it, and as the older form on the reports page posted it
# (without an action: its fields say which policy it is).
SLA_FORMS = [SLA, {name: value for name, value in SLA.items() if name != "action"}]


@pytest.mark.parametrize("form", SLA_FORMS, ids=["policies-page", "older-sla-form"])
def test_the_sla_is_changed_by_admins_only_and_audited(team, member, client_as, form):
    viewer = client_as(member(Role.VIEWER))
    assert viewer.get(_url(team)).status_code == 200
    assert viewer.post(_url(team), form).status_code == 403
    admin = member(Role.ADMIN)
    assert client_as(admin).post(_url(team), form).status_code == 302
    assert SlaPolicy.objects.get(team=team).days == {
        "critical": 3,
        "high": 14,
        "medium": 60,
        "low": 120,
    }
    event = AuditEvent.objects.get(team=team, action="reports.sla_policy.update")
    assert event.details["before"]["critical"] == 7 and event.details["after"]["critical"] == 3
    bad = client_as(admin).post(_url(team), {**form, "high_days": "0"})
    assert bad.status_code == 400
    assert SlaPolicy.objects.get(team=team).high_days == 14


@pytest.mark.parametrize(
    "change, message",
    [
        ({"high_days": "0"}, "High (days) must be between 1 and 3650."),
        ({"low_days": "99999999999999999999"}, "Low (days) must be between 1 and 3650."),
        ({"medium_days": "soon"}, "Medium (days) must be a whole number of days."),
        ({"critical_days": ""}, "Give critical findings a number of days."),
    ],
)
def test_sla_errors_are_in_the_words_of_the_form_and_lose_nothing(
    team, admin, client_as, change, message
):
    response = client_as(admin).post(_url(team), {**SLA, **change})

    assert response.status_code == 400
    body = response.content.decode()
    assert message in body
    assert "Nothing was saved" in body
    for name, value in SLA.items():  # what was typed stays in the form
        if name.endswith("_days") and name not in change:
            assert f'name="{name}" value="{value}"' in body
    assert not SlaPolicy.objects.filter(team=team).exists()
    assert not AuditEvent.objects.filter(team=team).exists()


def test_a_bad_approval_count_is_refused_in_words(team, admin, client_as):
    response = client_as(admin).post(_url(team), {**APPROVALS, "required_approvals": "7"})
    assert response.status_code == 400
    assert "Choose one or two approvers." in response.content.decode()
    assert not TeamApprovalPolicy.objects.filter(team=team).exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TRIAGER, Role.APPROVER])
def test_members_read_the_policies_and_only_admins_change_them(team, member, client_as, role):
    client = client_as(member(role))
    page = client.get(_url(team))
    assert page.status_code == 200
    assert "Only team admins change the policies" in page.content.decode()
    assert 'name="action"' not in page.content.decode()
    assert client.post(_url(team), SLA).status_code == 403
    assert client.post(_url(team), APPROVALS).status_code == 403
    assert not AuditEvent.objects.exists()


def test_another_team_answers_404(team, other_team, member, client_as):
    outsider = client_as(member(Role.ADMIN, of=other_team))
    assert outsider.get(_url(team)).status_code == 404
    assert outsider.post(_url(team), SLA).status_code == 404


@pytest.mark.parametrize("old", ["approvals-policy", "reports-sla-policy"])
def test_the_old_policy_pages_redirect_here(team, admin, client_as, old):
    client = client_as(admin)
    response = client.get(_url(team, old))
    assert response.status_code == 301
    assert response["Location"] == _url(team)


def test_a_form_posted_to_an_old_page_keeps_its_values(team, admin, client_as):
    data = {k: v for k, v in SLA.items() if k != "action"}
    response = client_as(admin).post(_url(team, "reports-sla-policy"), data, follow=True)
    assert response.redirect_chain[0] == (_url(team), 307)
    assert SlaPolicy.objects.get(team=team).critical_days == 3


def test_the_settings_tabs_link_to_policies(team, admin, client_as):
    body = client_as(admin).get(_url(team, "settings-members")).content.decode()
    assert f'href="{_url(team)}"' in body


def test_an_old_approval_form_keeps_the_opening_setting(team, admin, client_as):
    TeamApprovalPolicy.objects.create(team=team, open_pull_requests_on_approval=True)
    client_as(admin).post(_url(team, "approvals-policy"), {"required_approvals": "2"}, follow=True)
    policy = TeamApprovalPolicy.objects.get(team=team)
    assert policy.required_approvals == 2 and policy.open_pull_requests_on_approval
