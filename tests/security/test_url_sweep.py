"""The security sweep over every URL of the project, read from the resolver.

For each URL pattern: anonymous requests go to sign-in (htmx: 401 with HX-Redirect); a member
of another team gets 404 and none of the object's data, whichever team slug they use; roles
below what the view needs get 403 and no forms or htmx writes they may not use; POST without a
CSRF token gets 403. Exceptions are listed, with their reasons, in ``exceptions.py``.
"""

import pytest
from django.test import Client
from django.urls import reverse

from tests.security import exceptions
from tests.security.urlmap import (
    KWARG_FACTORIES,
    VICTIM_MARKERS,
    all_urls,
    listed,
    missing_kwargs,
    url_of,
    write_role_of,
    write_targets,
)
from triage.models import Role

URLS = all_urls()
BY_CATEGORY = {
    category: [e for e in URLS if e.category == category]
    for category in ("team", "account", "admin", "sandbox")
}
NEEDS_LOGIN = [
    e for e in URLS if e.category in ("team", "account") and not listed(e.url_id, exceptions.PUBLIC)
]
ADMIN_GUARDED = [e for e in BY_CATEGORY["admin"] if not listed(e.url_id, exceptions.PUBLIC)]
CSRF_CHECKED = [e for e in URLS if not listed(e.url_id, exceptions.CSRF_EXEMPT)]
TEAM = BY_CATEGORY["team"]
TEAM_WITH_OBJECTS = [e for e in TEAM if set(e.kwargs) - {"team_slug"}]


def _ids(entries):
    return [e.url_id for e in entries]


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def _assert_no_victim_data(response, where: str):
    body = _body(response)
    leaked = [marker for marker in VICTIM_MARKERS.values() if marker in body]
    assert not leaked, f"{where} shows the other team's data: {leaked}"


def test_the_sweep_sees_every_area():
    names = {e.url_id for e in URLS}
    for expected in (
        "login",
        "logout",
        "healthz",
        "home",
        "preferences",
        "email-preferences",
        "two-factor",
        "second-step",
        "dashboard",
        "findings",
        "my-queue",
    ):
        assert expected in names
    assert BY_CATEGORY["admin"] and BY_CATEGORY["sandbox"] and len(TEAM) >= 20


def test_every_url_kwarg_has_an_object_factory():
    missing = missing_kwargs([e for e in URLS if e.category != "sandbox"])
    assert not missing, (
        "Add a factory to KWARG_FACTORIES in tests/security/urlmap.py for these URL kwargs "
        f"(kwarg → URLs): {missing}"
    )


def test_every_documented_exception_names_a_real_url():
    ids = {e.url_id for e in URLS}
    for table in (
        exceptions.PUBLIC,
        exceptions.CSRF_EXEMPT,
        exceptions.WRITE_FORMS_SHOWN_BELOW_ROLE,
    ):
        for key, reason in table.items():
            assert reason.strip(), key
            assert any(listed(url_id, {key: reason}) for url_id in ids), f"stale exception {key}"


def test_every_team_url_declares_its_roles():
    undeclared = [e.url_id for e in TEAM if e.team_roles is None]
    assert not undeclared, f"team URLs without @team_view: {undeclared}"


@pytest.mark.parametrize("entry", NEEDS_LOGIN, ids=_ids(NEEDS_LOGIN))
def test_anonymous_is_sent_to_sign_in(entry, victim_world):
    url = url_of(entry, victim_world)
    login = reverse("login")
    anonymous = Client()

    page = anonymous.get(url)
    assert page.status_code == 302, (url, page.status_code)
    assert page["Location"].startswith(f"{login}?next="), page["Location"]
    _assert_no_victim_data(page, url)

    fragment = anonymous.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 401, (url, fragment.status_code)
    assert fragment["HX-Redirect"] == login

    posted = anonymous.post(url, {})
    assert posted.status_code == 302 and posted["Location"].startswith(login), url


@pytest.mark.parametrize("entry", ADMIN_GUARDED, ids=_ids(ADMIN_GUARDED))
def test_admin_needs_staff(entry, victim_world, member, client_as):
    url = url_of(entry, victim_world)
    # Anonymous: a sign-in page (the portal's, or the admin's for the admin site's own views);
    # a team admin who is not staff: the admin's sign-in.
    for client, logins in (
        (Client(), (reverse("login"), reverse("admin:login"))),
        (client_as(member(Role.ADMIN)), (reverse("admin:login"),)),
    ):
        response = client.get(url)
        assert response.status_code == 302, (url, response.status_code)
        location = response["Location"]
        assert any(location.startswith(f"{login}?next=") for login in logins), location
        _assert_no_victim_data(response, url)


@pytest.mark.parametrize("entry", BY_CATEGORY["sandbox"], ids=_ids(BY_CATEGORY["sandbox"]))
def test_sandbox_ignores_portal_sessions(entry, victim_world, member, client_as):
    """The documented exception holds only because the sandbox has its own authentication:
    no API key means no data, signed in to the portal or not."""
    url = url_of(entry, victim_world)
    for client in (Client(), client_as(member(Role.ADMIN))):
        response = client.get(url)
        assert response.status_code in (401, 403, 404, 405), (url, response.status_code)
        _assert_no_victim_data(response, url)


@pytest.mark.parametrize("entry", TEAM, ids=_ids(TEAM))
def test_other_teams_member_gets_404_and_nothing(
    entry, victim_world, other_team, member, client_as
):
    attacker = client_as(member(Role.ADMIN, of=other_team))
    urls = [url_of(entry, victim_world)]
    if entry in TEAM_WITH_OBJECTS:
        # Their own team's slug with the victim's object ids: the object lookup must be scoped.
        urls.append(url_of(entry, victim_world, team_slug=other_team.slug))
    for own_slug, url in enumerate(urls):
        for response, how in (
            (attacker.get(url), "GET"),
            (attacker.get(url, headers={"HX-Request": "true"}), "htmx GET"),
            (attacker.post(url, {}), "POST"),
            (attacker.post(url, {}, headers={"HX-Request": "true"}), "htmx POST"),
        ):
            # Under their own team a read-only URL may refuse POST (405) before looking the
            # object up: that says nothing about the object.
            allowed = {404, 405} if own_slug and "POST" in how else {404}
            assert response.status_code in allowed, (how, url, response.status_code)
            _assert_no_victim_data(response, f"{how} {url}")


ROLES = list(Role)


@pytest.mark.parametrize("entry", TEAM, ids=_ids(TEAM))
def test_roles_below_the_view_get_403_and_no_write_forms(entry, victim_world, member, client_as):
    read, write = Role(entry.team_roles["read"]), Role(entry.team_roles["write"])
    url = url_of(entry, victim_world)
    for role in ROLES:
        client = client_as(member(role))
        if not role.includes(read):
            for response, how in ((client.get(url), "GET"), (client.post(url, {}), "POST")):
                assert response.status_code == 403, (role, how, url, response.status_code)
                _assert_no_victim_data(response, f"{role} {how} {url}")
            continue
        if not role.includes(write):
            response = client.post(url, {})
            assert response.status_code == 403, (role, "POST", url, response.status_code)
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(url, headers=headers)
            assert response.status_code < 500, (role, url, headers, response.status_code)
            if not response.get("Content-Type", "").startswith("text/html"):
                continue
            offered = []
            for target in write_targets(_body(response), url):
                needed, name = write_role_of(target.url)
                if needed is None or listed(name or "", exceptions.WRITE_FORMS_SHOWN_BELOW_ROLE):
                    continue
                if not role.includes(needed):
                    offered.append((target.how, target.url, f"needs {needed}"))
            assert not offered, f"{role} sees writes they may not make on {url}: {offered}"


@pytest.mark.parametrize("entry", CSRF_CHECKED, ids=_ids(CSRF_CHECKED))
def test_post_without_csrf_token_is_refused(entry, victim_world, member):
    user = member(Role.ADMIN)
    user.is_staff = user.is_superuser = True
    user.save()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    url = url_of(entry, victim_world)
    for headers in ({}, {"HX-Request": "true"}):
        response = client.post(url, {"action": "delete"}, headers=headers)
        assert response.status_code == 403, (url, headers, response.status_code)
        _assert_no_victim_data(response, url)


def test_kwarg_factories_make_objects_of_the_victim_team(victim_world, team):
    for name, factory in KWARG_FACTORIES.items():
        assert factory(victim_world) not in (None, ""), name
    for attribute in ("finding", "fix", "approval", "dismissal", "status_job", "sync_run", "batch"):
        assert getattr(victim_world, attribute).team_id == team.pk, attribute


# Own-team URLs whose query string or form names objects by id: the ids of another team's
# objects must reach nothing. Query strings: (url name, parameter → victim object attribute).
ID_QUERIES = [
    ("findings", {"batch": "batch", "repository": "repository"}),
    ("findings-group-findings", {"batch": "batch", "repository": "repository"}),
    ("scans", {"repository": "repository"}),
    ("scan-started", {"batch": "batch"}),
    ("scan-new", {"repository": "repository"}),
    ("reports", {"repository": "repository"}),
    ("reports-sla", {"repository": "repository", "kind": None}),
    ("reports", {"owner": "squad"}),
    ("reports-export-owners", {"owner": "squad"}),
    ("reports-export-campaigns", {"repository": "repository"}),
    ("reports-export-campaigns", {"owner": "squad"}),
    ("reports-export-findings", {"repository": "repository", "batch": "batch"}),
    ("fixes-new", {"finding": "finding"}),
    ("pull-requests", {"repository": "repository"}),
]
# Forms: (url name, parameter → victim object attribute, the action it is posted with).
ID_FORMS = [
    ("fixes-new", {"finding": "finding"}, "submit"),
    ("findings-bulk", {"finding": "finding"}, "submit"),
    ("findings-assign", {"finding": "finding"}, "claim"),
    ("settings-sync", {"connection": "connection"}, "submit"),
    ("settings-members", {"membership": "membership"}, "remove"),
    ("settings-ownership", {"squad": "squad", "membership": "membership"}, "squad_member_add"),
    ("settings-ownership", {"squad": "squad"}, "squad_delete"),
    ("settings-ownership", {"rule": "ownership_rule"}, "rule_delete"),
    ("settings-notifications", {"channel": "notification_channel"}, "channel_delete"),
    ("settings-notifications", {"rule": "notification_rule"}, "rule_delete"),
    ("settings-notifications", {"repositories": "repository", "owner": "squad"}, "rule_create"),
    ("settings-notification-log", {"delivery": "notification_delivery"}, "redeliver"),
]
# (url name, method, parameters, action): a query string is sent with action "submit" too.
ID_PARAMETERS = [(name, "get", parameters, "submit") for name, parameters in ID_QUERIES] + [
    (name, "post", parameters, action) for name, parameters, action in ID_FORMS
]
# Parameters that name an object inside a longer value (the report's owner filter).
ID_FORMATS = {"owner": "squad:{}"}


@pytest.mark.parametrize(
    "name,method,parameters,action", ID_PARAMETERS, ids=[f"{n}-{m}" for n, m, *_ in ID_PARAMETERS]
)
def test_ids_of_another_teams_objects_reach_nothing(
    name, method, parameters, action, victim_world, other_team, member, client_as, team
):
    from triage.models import FindingStatusJobItem, Membership, OwnershipRule, SyncRun

    attacker = client_as(member(Role.ADMIN, of=other_team))
    values = {"membership": Membership.objects.filter(team=team).first()}
    data = {"kind": "breached", "status": "resolved", "title": "x", "instructions": "x"}
    for parameter, attribute in parameters.items():
        if attribute:
            obj = values.get(attribute) or getattr(victim_world, attribute)
            data[parameter] = ID_FORMATS.get(parameter, "{}").format(obj.pk)
    data["action"] = action
    url = reverse(name, kwargs={"team_slug": other_team.slug})
    status_before = victim_world.finding.status
    owner_before = _owner(victim_world.finding)
    members_before = Membership.objects.filter(team=team).count()
    runs_before = SyncRun.objects.filter(connection=victim_world.connection).count()
    response = getattr(attacker, method)(url, data)
    assert response.status_code < 500, (name, response.status_code)
    _assert_no_victim_data(response, f"{method} {url}")
    if response.status_code in (301, 302):
        _assert_no_victim_data(attacker.get(response["Location"]), response["Location"])
    victim_world.finding.refresh_from_db()
    assert victim_world.finding.status == status_before
    assert (
        not FindingStatusJobItem.objects.filter(finding=victim_world.finding)
        .exclude(job__team=team)
        .exists()
    )
    assert SyncRun.objects.filter(connection=victim_world.connection).count() == runs_before
    assert Membership.objects.filter(team=team).count() == members_before
    assert _owner(victim_world.finding) == owner_before
    if name == "settings-ownership":
        assert victim_world.squad.members.count() == 1
        assert OwnershipRule.objects.filter(pk=victim_world.ownership_rule.pk).exists()
    if name.startswith("settings-notification"):
        from triage.models import Delivery, NotificationRule

        assert NotificationRule.objects.filter(pk=victim_world.notification_rule.pk).exists()
        delivery = Delivery.objects.get(pk=victim_world.notification_delivery.pk)
        assert delivery.state == Delivery.State.FAILED and delivery.attempts == 8


def _owner(finding):
    finding.refresh_from_db()
    return finding.owner_member_id, finding.owner_squad_id, finding.owner_explicit


def test_the_write_detector_sees_forms_htmx_and_formaction(team, member, client_as):
    """The role check above is only as good as its detector: it must see every kind of write."""
    page = (
        '<form method="POST" action="/t/blue/findings/bulk/"></form>'
        '<button hx-post="/t/blue/settings/members/">x</button>'
        '<button formaction="/t/blue/scans/new/">y</button>'
        '<form method="get" action="/t/blue/findings/"></form>'
        '<form method="post"></form>'
    )
    found = [(t.how, write_role_of(t.url)[0]) for t in write_targets(page, "/t/blue/reports/")]
    assert found == [
        ("form", Role.TRIAGER),
        ("hx-post", Role.ADMIN),
        ("formaction", Role.TRIAGER),
        ("form", Role.VIEWER),
    ]
    # On a real page: a viewer's dashboard offers signing out, which any signed-in user may do.
    url = reverse("dashboard", kwargs={"team_slug": team.slug})
    body = client_as(member(Role.VIEWER)).get(url).content.decode()
    targets = [t.url for t in write_targets(body, url)]
    assert reverse("logout") in targets


# Own-team list pages that gather a team's objects: another team's never appear on them.
TEAM_LISTS = [
    ("repositories", {}),
    ("repositories", {"name": "victim", "sort": "open"}),
    ("pull-requests", {}),
    ("pull-requests", {"merge_status": "open", "opened_after": "2000-01-01"}),
    ("findings", {"group": "rule"}),
    ("findings", {"group": "rule", "check_id": "python.lang.security.sql-injection"}),
]


@pytest.mark.parametrize("name,params", TEAM_LISTS, ids=[f"{n}-{len(p)}" for n, p in TEAM_LISTS])
def test_another_teams_objects_never_appear_on_team_lists(
    name, params, victim_world, other_team, member, client_as
):
    # The victim's finding, scan batch, fix and its pull request.
    assert victim_world.pull_request.team_id == victim_world.batch.team_id
    attacker = client_as(member(Role.ADMIN, of=other_team))
    url = reverse(name, kwargs={"team_slug": other_team.slug})
    for headers in ({}, {"HX-Request": "true"}):
        response = attacker.get(url, params, headers=headers)
        assert response.status_code == 200, (url, response.status_code)
        _assert_no_victim_data(response, f"{url} {params}")
