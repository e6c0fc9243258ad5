"""Hostile input on every filter and form: unicode, long strings, SQL and HTML metacharacters,
wrong types. The portal answers a clean page (200, a redirect, 400 for a refused form, 404 for
an id it does not have), never a 500, and never reflects markup unescaped."""

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.security.urlmap import VictimWorld
from triage.models import Role

# Reflected raw, any of these would run in the page.
MARKUP_PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg/onload=alert(1)>",
    "</textarea><script>alert(1)</script>",
    '" hx-get="/logout/" hx-trigger="load',
    "javascript:alert(1)",
]
# Markup that must never come back as it was sent (quotes and brackets escaped).
RAW_MARKUP = [p for p in MARKUP_PAYLOADS if "<" in p or '"' in p]
METACHARACTERS = [
    "' OR 1=1 --",
    '"; DROP TABLE triage_finding; --',
    "%",
    "_",
    "\\",
    "%00",
    "\x00",
    "a\x00b",
    "{{ 7*7 }}",
    "{% debug %}",
    "../../etc/passwd",
    "\u202e\u200b\ufeff",
    "😀🔥",
    "Ω≈ç√∫˜µ≤≥÷",
]
WRONG_TYPES = [
    "abc",
    "-1",
    "0",
    "1.5",
    "1e309",
    "NaN",
    "99999999999999999999999",
    "2147483648",
    "-9223372036854775809",
    "2026-13-45",
    "2026-02-30",
    "0000-00-00",
    "9999-12-31",
    "",
    " ",
    "true",
    "[]",
    "null",
]

hostile_text = st.one_of(
    st.sampled_from(MARKUP_PAYLOADS + METACHARACTERS + WRONG_TYPES),
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=30),
    st.builds(
        lambda payload, n: payload + "x" * n,
        st.sampled_from(MARKUP_PAYLOADS),
        st.integers(0, 10_000),
    ),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
HYPOTHESIS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def params_of(names):
    """Some of ``names``, each with one or two hostile values."""
    return st.dictionaries(
        st.sampled_from(names), st.lists(hostile_text, min_size=1, max_size=2), max_size=4
    )


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def assert_clean(response, sent: dict, *, where: str):
    assert response.status_code < 500, (where, sent, response.status_code)
    assert response.status_code in (200, 204, 286, 301, 302, 400, 404, 405), (
        where,
        sent,
        response.status_code,
    )
    if not response.get("Content-Type", "").startswith("text/html"):
        return
    body = _body(response)
    for values in sent.values():
        for value in values if isinstance(values, list) else [values]:
            for payload in RAW_MARKUP:
                if payload in str(value):
                    assert payload not in body, f"{where} reflects {payload!r} unescaped"


@pytest.fixture
def world(team, member, sandbox_transport):
    world = VictimWorld(team=team, owner=member(Role.ADMIN, username="owner-admin"))
    # Objects the pages list and filter, made once per test.
    for attribute in ("batch", "finding", "fix", "status_job", "saved_view", "sync_run"):
        getattr(world, attribute)
    return world


@pytest.fixture
def admin_client(world, client_as):
    return client_as(world.owner)


FINDINGS_FILTERS = [
    "q",
    "repository",
    "batch",
    "severity",
    "status",
    "scan_type",
    "check_id",
    "path",
    "cwe",
    "first_detected_after",
    "first_detected_before",
    "last_detected_after",
    "last_detected_before",
    "age_min_days",
    "age_max_days",
    "sort",
    "cursor",
]
REPORT_FILTERS = ["period", "start", "end", "repository", "owner", "coverage_days", "page"]
EXPORT_FILTERS = [
    "repository",
    "severity",
    "status",
    "scan_type",
    "batch",
    "check_id",
    "path",
    "cwe",
    "q",
    "detected_after",
    "detected_before",
    "resolved_after",
    "resolved_before",
]
# URL name → its query parameters.
FILTERED_PAGES = {
    "findings": FINDINGS_FILTERS,
    "my-queue": FINDINGS_FILTERS,
    "findings-jobs": ["page"],
    "reports": REPORT_FILTERS,
    "reports-sla": [*REPORT_FILTERS, "kind", "severity"],
    "reports-export-findings": EXPORT_FILTERS,
    "reports-export-sla": REPORT_FILTERS,
    "reports-export-repositories": REPORT_FILTERS,
    "reports-export-owners": REPORT_FILTERS,
    "reports-export-campaigns": REPORT_FILTERS,
    "scans": ["repository", "scan_type", "status", "page"],
    "scan-started": ["batch"],
    "scan-new": ["repository", "scan_type"],
    "settings-audit": ["actor", "action", "page"],
    "fixes": ["status", "page"],
    "fixes-new": ["finding"],
    "approvals": ["status", "page"],
    "repositories": ["name", "sort", "page"],
    "pull-requests": ["repository", "merge_status", "opened_after", "opened_before", "page"],
}
OBJECT_PAGES = {
    "finding": ("finding_id", "finding", ["back"]),
    "fixes-detail": ("fix_id", "fix", ["v", "view"]),
    "fixes-compare": ("fix_id", "fix", ["a", "b", "view"]),
    "scan-batch": ("batch_id", "batch", ["page"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FILTERED_PAGES))
def test_list_filters_survive_hostile_values(name, world, admin_client):
    url = reverse(name, kwargs={"team_slug": world.team.slug})

    @HYPOTHESIS
    @given(params=params_of(FILTERED_PAGES[name]), htmx=st.booleans())
    def check(params, htmx):
        headers = {"HX-Request": "true"} if htmx else {}
        assert_clean(admin_client.get(url, params, headers=headers), params, where=name)

    check()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(OBJECT_PAGES))
def test_object_pages_survive_hostile_values(name, world, admin_client):
    kwarg, attribute, names = OBJECT_PAGES[name]
    url = reverse(name, kwargs={"team_slug": world.team.slug, kwarg: getattr(world, attribute).pk})

    @HYPOTHESIS
    @given(params=params_of(names))
    def check(params):
        assert_clean(admin_client.get(url, params), params, where=name)

    check()


@pytest.mark.parametrize(
    "value", ["abc", "-1", "99999999999999999999", "1e3", "%00", "2026-13-45", "<b>1</b>"]
)
def test_wrong_typed_path_ids_are_not_found(value, world, admin_client):
    for prefix in ("findings", "scans", "fixes", "findings/jobs", "settings/sync"):
        response = admin_client.get(f"/t/{world.team.slug}/{prefix}/{value}/")
        assert response.status_code == 404, (prefix, value, response.status_code)


# Form URL name → (kwargs from the world, its fields).
FORMS = {
    "settings-connections": ({}, ["name", "base_url", "api_key"]),
    "settings-members": (
        {},
        ["action", "username", "role", "membership", "invite-email", "invite-role", "invitation"],
    ),
    "settings-connection": ({"connection_id": "connection"}, ["action"]),
    "settings-sync": ({}, ["connection", "kind"]),
    "settings-policies": (
        {},
        [
            "action",
            "critical_days",
            "high_days",
            "medium_days",
            "low_days",
            "required_approvals",
            "require_totp",
        ],
    ),
    "findings-views": ({}, ["name", "query"]),
    "findings-bulk": (
        {},
        ["finding", "all_matching", "filter_query", "status", "comment", "action"],
    ),
    "findings-assign": (
        {},
        ["finding", "all_matching", "filter_query", "action", "assignee"],
    ),
    "finding": ({"finding_id": "finding"}, ["status", "comment"]),
    "finding-comments": ({"finding_id": "finding"}, ["body"]),
    "findings-job": ({"job_id": "status_job"}, ["action"]),
    "scan-new": ({}, ["all_repositories", "repositories", "scan_types"]),
    "fixes-new": ({}, ["finding", "title", "instructions", "source_repo", "branch"]),
    "fixes-detail": (
        {"fix_id": "fix"},
        [
            "action",
            "instructions",
            "note",
            "pr_title",
            "pr_body",
            "diff_sha256",
            "file_path",
            "side",
            "line",
            "parent",
            "body",
            "v",
            "viewed",
        ],
    ),
    "approvals-decide": ({"approval_id": "approval"}, ["decision", "comment"]),
    "preferences": (None, ["timezone"]),
    "email-preferences": (None, ["action", "digests", "kind_findings_new", "cadence"]),
    "two-factor": (None, ["code", "action"]),
    "password_reset": (None, ["email"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FORMS))
def test_forms_survive_hostile_values(
    name, world, admin_client, django_capture_on_commit_callbacks
):
    objects, fields = FORMS[name]
    if objects is None:
        url = reverse(name)
    else:
        kwargs = {k: getattr(world, v).pk for k, v in objects.items()}
        url = reverse(name, kwargs={"team_slug": world.team.slug, **kwargs})

    @HYPOTHESIS
    @given(data=params_of(fields), htmx=st.booleans())
    def check(data, htmx):
        headers = {"HX-Request": "true"} if htmx else {}
        with django_capture_on_commit_callbacks(execute=False):
            response = admin_client.post(url, data, headers=headers)
        assert_clean(response, data, where=name)
        if response.status_code in (301, 302):
            landing = admin_client.get(response["Location"])
            assert_clean(landing, data, where=f"{name} → {response['Location']}")

    check()


def test_script_payload_in_search_is_escaped_in_the_findings_page(world, admin_client):
    """The deterministic case of the properties above, so a regression names itself."""
    url = reverse("findings", kwargs={"team_slug": world.team.slug})
    for payload in [p for p in MARKUP_PAYLOADS if "<" in p or '"' in p]:
        for params in ({"q": payload}, {"path": payload}, {"check_id": payload}):
            response = admin_client.get(url, params)
            assert response.status_code in (200, 400)
            assert payload not in response.content.decode(), params


@pytest.mark.parametrize(
    "name,params",
    [
        ("findings", {"age_min_days": "99999999999"}),
        ("findings", {"age_max_days": "1000000"}),
        ("findings", {"age_min_days": "1e309"}),
        ("scan-started", {"batch": "¹"}),
        ("scan-new", {"repository": "¹"}),
        ("findings", {"first_detected_before": "9999-12-31"}),
        ("findings", {"last_detected_before": "9999-12-31"}),
        ("findings", {"first_detected_after": "0001-01-01"}),
        ("reports-export-findings", {"last_detected_before": "9999-12-31"}),
        ("reports", {"start": "0001-01-01", "end": "9999-12-31", "period": "custom"}),
        ("reports", {"start": "0001-01-01", "end": "0001-01-01", "period": "custom"}),
    ],
)
def test_inputs_that_once_raised_a_server_error(name, params, world, admin_client):
    """Found by the properties above (an overflowing day count; a digit int() refuses)."""
    response = admin_client.get(reverse(name, kwargs={"team_slug": world.team.slug}), params)
    assert_clean(response, params, where=name)
