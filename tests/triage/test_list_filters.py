"""List pages built the same way: selector queryset → FilterSet → table → the page, or for htmx
the table's partial; the filter form is the FilterSet's own, every filter in the URL."""

import pytest

from tests.factories import FindingFactory, FixFactory, RepositoryFactory
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


# Defect 9: a filter value the form refuses is named, in the words of the form, on every list.
@pytest.mark.parametrize(
    "page,params,sentence",
    [
        (
            "scans",
            {"status": "nope"},
            "Ignored the filter Status: “nope” is not one of the choices.",
        ),
        (
            "fixes",
            {"status": "nope"},
            "Ignored the filter Status: “nope” is not one of the choices.",
        ),
        (
            "approvals",
            {"status": "nope"},
            "Ignored the filter Status: “nope” is not one of the choices.",
        ),
        (
            "findings",
            {"age_min_days": "soon"},
            "Ignored the filter Age at least (days): “soon” is not a whole number.",
        ),
        (
            "findings",
            {"status": "nope"},
            "Ignored the filter Status: “nope” is not one of the choices.",
        ),
        (
            "findings",
            {"first_detected_after": "yesterday"},
            "Ignored the filter First seen from: “yesterday” is not a date.",
        ),
        (
            "settings-audit",
            {"action": "nope"},
            "Ignored the filter Action: “nope” is not one of the choices.",
        ),
        (
            "settings-audit",
            {"actor": "x" * 151},
            "Ignored the filter Actor: “" + "x" * 59 + "…” is longer than 150 characters.",
        ),
    ],
)
def test_an_unknown_filter_value_is_named_in_the_words_of_the_form(
    page, params, sentence, team, member, client_as
):
    client = client_as(member(Role.ADMIN))

    full = client.get(team_url(page, team), params)
    fragment = client.get(team_url(page, team), params, **HTMX)

    assert full.status_code == 200 and fragment.status_code == 200
    assert sentence in full.content.decode()
    assert sentence in fragment.content.decode()  # the table's update says it too
    assert "data-ignored-filters" not in client.get(team_url(page, team)).content.decode()


def test_the_other_filters_still_apply_when_one_is_ignored(team, member, client_as):
    repository = RepositoryFactory(team=team)
    FixFactory(repository=repository, title="Completed one", status="completed")
    FindingFactory(repository=repository, title="Critical one", severity="critical")
    FindingFactory(repository=repository, title="Low one", severity="low")
    client = client_as(member(Role.VIEWER))

    body = client.get(
        team_url("findings", team), {"severity": "critical", "age_min_days": "soon"}
    ).content.decode()

    assert "Critical one" in body and "Low one" not in body
    assert "Ignored the filter Age at least (days)" in body


def test_an_unknown_approvals_tab_shows_the_waiting_requests(team, member, client_as):
    body = client_as(member(Role.VIEWER)).get(team_url("approvals", team), {"status": "nope"})

    assert 'aria-current="page">Waiting</a>' in body.content.decode()


def test_an_unknown_audit_actor_lists_every_event(team, member, client_as):
    admin = member(Role.ADMIN, username="ada")
    _event(team, admin, "member.add")

    body = client_as(admin).get(team_url("settings-audit", team), {"actor": "nobody"}).content

    assert "Ignored the filter Actor: “nobody” is not one of the choices.".encode() in body
    assert b"Member added" in body


def test_each_ignored_filter_gets_one_sentence_naming_its_label(team):
    from triage.filters.pull_requests import PullRequestFilter
    from triage.models import PullRequest
    from triage.views.list_filters import ignored_filters

    data = {"repository": "abc", "opened_after": "2026-02-31", "merge_status": "open"}
    bound = PullRequestFilter(data, queryset=PullRequest.objects.none(), team=team)

    assert ignored_filters(bound) == [
        "Ignored the filter Repository: “abc” is not one of the choices.",
        "Ignored the filter Opened from: “2026-02-31” is not a date.",
    ]
    assert (
        ignored_filters(PullRequestFilter(None, queryset=PullRequest.objects.none(), team=team))
        == []
    )


def test_findings_filters_offer_each_team_its_own_choices(team, other_team, member):
    """The choices are read per team and copied by reference into each form: building the
    filters for one team never leaves its repositories in another's."""
    import copy

    from triage.filters.findings import FindingFilter
    from triage.selectors.findings import findings_for_team

    ours = RepositoryFactory(team=team, name="ours-repo")
    theirs = RepositoryFactory(team=other_team, name="theirs-repo")
    user = member(Role.TRIAGER)

    def offered(for_team, chosen):
        filterset = FindingFilter(
            {"repository": str(chosen.pk)},
            queryset=findings_for_team(team=for_team),
            team=for_team,
            user=user,
        )
        field = filterset.form.fields["repository"]
        assert list(copy.deepcopy(field).choices) == list(field.choices)
        return [label for _, label in field.choices], filterset.form.is_valid()

    labels, valid = offered(team, theirs)
    assert "theirs-repo" not in labels and "ours-repo" in labels and not valid
    labels, valid = offered(other_team, theirs)
    assert "ours-repo" not in labels and "theirs-repo" in labels and valid
    labels, valid = offered(team, ours)
    assert labels.count("ours-repo") == 1 and valid
