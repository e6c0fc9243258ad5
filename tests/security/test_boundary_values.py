"""Boundary values for every field of every filter and form of the portal.

The forms and filters are found by walking the ``triage`` package, not listed by hand: a new
FilterSet or form fails ``test_every_form_and_filter_has_a_page`` until ``PAGES`` says where it
is used. Each field then gets the values at the ends of its type's range (dates at 0001-01-01
and 9999-12-31, integers beyond 32 and 64 bits, empty, 10,000-character and NUL-byte strings,
unknown choices), one field at a time so no other invalid field hides it, and the page that
uses it must answer without a server error.
"""

import copy
import importlib
import inspect
import pkgutil
from dataclasses import dataclass, field

import django_filters
import pytest
from django import forms
from django.urls import reverse

import triage
from tests.security.urlmap import VictimWorld
from triage.models import Role

INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Page:
    """Where a form or filter is used: a URL name, its kwargs (world attributes), the method
    and the other values the page needs to read the form at all (e.g. ``action``)."""

    name: str
    method: str = "get"
    kwargs: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    team: bool = True
    superuser: bool = False


def _posted(url_name: str, module: str, data_of: dict[str, dict]) -> dict[str, list[Page]]:
    """Forms of one module, each posted to the page `url_name` with its own data (by class)."""
    return {
        f"{module}.{name}": [Page(url_name, "post", data=data)] for name, data in data_of.items()
    }


FINDING = {"finding_id": "finding"}
FIX = {"fix_id": "fix"}

# Form or FilterSet (by qualified name) → the pages that read it.
PAGES: dict[str, list[Page]] = {
    "triage.filters.findings.FindingFilter": [
        Page("findings"),
        Page("findings", data={"group": "rule"}),
        Page("findings-count"),
        Page("findings-group-findings"),
        Page("my-queue"),
        Page("my-queue-count"),
        Page("reports-export-findings"),
    ],
    "triage.filters.audit.AuditEventFilter": [Page("settings-audit")],
    "triage.filters.fixes.FixFilter": [Page("fixes")],
    "triage.forms.scans.ScanBatchFilter": [Page("scans")],
    "triage.forms.scans.ScanStartForm": [
        Page("scan-new", "post", data={"scan_types": "semgrep_scan"}),
        Page("scan-new-quota"),
    ],
    "triage.forms.findings.DismissalFieldsMixin": [
        Page("finding", "post", FINDING, {"status": "ignored"}),
    ],
    "triage.forms.findings.FindingStatusForm": [
        Page("finding", "post", FINDING, {"status": "resolved"}),
    ],
    "triage.forms.findings.BulkStatusForm": [
        Page("findings-bulk", "post", data={"finding": "finding", "status": "resolved"}),
        Page(
            "findings-bulk",
            "post",
            data={"all_matching": "on", "status": "ignored", "action": "preview"},
        ),
    ],
    "triage.forms.findings.FindingSelectionForm": [
        Page("findings-bulk", "post", data={"finding": "finding", "status": "resolved"}),
        Page("findings-assign", "post", data={"finding": "finding", "action": "claim"}),
    ],
    "triage.forms.findings.AssignSelectionForm": [
        Page("findings-assign", "post", data={"finding": "finding", "assignee": "me"}),
        Page("findings-assign", "post", data={"all_matching": "on", "action": "unassign"}),
    ],
    "triage.forms.findings.SavedViewForm": [
        Page("findings-views", "post", data={"name": "Boundary view"})
    ],
    "triage.forms.fixes.FixStartForm": [
        Page("fixes-new", "post", data={"finding": "finding", "title": "Boundary fix"})
    ],
    "triage.forms.fixes.FixRepositoryForm": [
        Page("fixes-new", "post", data={"finding": "finding", "title": "Boundary fix"})
    ],
    "triage.forms.findings.FindingCommentForm": [
        Page("finding-comments", "post", FINDING, {"body": "A boundary comment"})
    ],
    "triage.forms.campaigns.CampaignForm": [
        Page("campaigns-new", "post", data={"name": "Boundary campaign", "severities": "high"})
    ],
    "triage.forms.campaigns.CampaignActionForm": [
        Page("campaigns-detail", "post", {"campaign_id": "campaign"}, {"action": "launch"})
    ],
    "triage.filters.approvals.ApprovalInboxFilter": [Page("approvals")],
    "triage.filters.pull_requests.PullRequestFilter": [Page("pull-requests")],
    "triage.filters.repositories.RepositoryFilter": [Page("repositories")],
    "triage.forms.fixes.RefineForm": [Page("fixes-detail", "post", FIX, {"action": "refine"})],
    "triage.forms.fixes.ApprovalRequestForm": [
        Page("fixes-detail", "post", FIX, {"action": "request_approval"})
    ],
    "triage.forms.fixes.CommentForm": [
        Page(
            "fixes-detail",
            "post",
            FIX,
            {
                "action": "comment",
                "diff_sha256": "diff_sha256",
                "file_path": "victim/secret_path_narwhal9.py",
                "side": "new",
                "line": "1",
                "body": "A boundary comment",
            },
        )
    ],
    "triage.forms.fixes.DecisionForm": [
        Page("approvals-decide", "post", {"approval_id": "approval"}, {"decision": "reject"})
    ],
    "triage.forms.reports.ReportFilterForm": [
        Page("reports", data={"period": "custom", "start": "2026-01-01", "end": "2026-01-31"}),
        Page("reports-export-sla"),
        Page("reports-export-repositories"),
        Page("reports-export-owners"),
        Page("reports-export-campaigns"),
    ],
    "triage.forms.reports.SlaListForm": [Page("reports-sla", data={"kind": "breached"})],
    "triage.forms.settings.ConnectionForm": [
        Page(
            "settings-connections",
            "post",
            data={"name": "Boundary", "base_url": "https://kolega.example", "api_key": "kcp_x"},
        )
    ],
    **_posted(
        "settings-members",
        "triage.forms.settings",
        {
            "MemberForm": {"action": "add", "role": "viewer"},
            "MemberRoleForm": {"action": "role", "membership": "membership", "role": "viewer"},
            "InvitationForm": {
                "action": "invite",
                "invite-email": "new@example.com",
                "invite-role": "viewer",
            },
        },
    ),
    **_posted(
        "settings-policies",
        "triage.forms.settings",
        {
            "TeamApprovalPolicyForm": {"action": "approvals", "required_approvals": "1"},
            "TeamSignInPolicyForm": {"action": "sign_in"},
            "TeamSlaForm": {
                "action": "sla",
                "critical_days": "7",
                "high_days": "30",
                "medium_days": "90",
                "low_days": "180",
            },
        },
    ),
    "triage.forms.settings.PreferenceForm": [Page("preferences", "post", team=False)],
    "triage.forms.digests.EmailPreferencesForm": [
        Page("email-preferences", "post", data={"action": "save"}, team=False)
    ],
    "triage.forms.digests.SendDigestNowForm": [
        Page("email-preferences", "post", data={"action": "send_now"}, team=False)
    ],
    "triage.forms.sign_in.OneTimeCodeForm": [
        Page("two-factor", "post", data={"action": "confirm"}, team=False)
    ],
    "triage.forms.sign_in.PortalAuthenticationForm": [Page("login", "post", team=False)],
    "triage.forms.sign_in.LocalPasswordResetForm": [Page("password_reset", "post", team=False)],
    **_posted(
        "settings-ownership",
        "triage.forms.ownership",
        {
            "SquadForm": {"action": "squad_create"},
            "SquadMemberForm": {"action": "squad_member_add", "squad": "1"},
            "RuleForm": {"action": "rule_create", "kind": "path"},
            "CodeownersImportForm": {"action": "import", "text": "* @owner-admin"},
        },
    ),
    **_posted(
        "settings-notifications",
        "triage.forms.notifications",
        {
            "ChannelForm": {"action": "channel_create", "name": "Boundary", "kind": "email"},
            "NotificationRuleForm": {"action": "rule_create", "event_kind": "scan.finished"},
        },
    ),
    "triage.forms.ownership.AssignForm": [
        Page("finding-owner", "post", FINDING, {"action": "assign"})
    ],
    "triage.admin.ConnectionAdminForm": [
        Page("admin:triage_kolegaconnection_add", "post", team=False, superuser=True)
    ],
}


def _walk_classes():
    """Every Form and FilterSet class defined in the ``triage`` package."""
    found = {}
    for module_info in pkgutil.walk_packages(triage.__path__, "triage."):
        if ".migrations" in module_info.name or ".management" in module_info.name:
            continue
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            if issubclass(cls, (forms.BaseForm, django_filters.FilterSet)):
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return found


CLASSES = _walk_classes()


def fields_of(cls) -> dict[str, forms.Field]:
    """The form fields a request fills in, by parameter name."""
    if issubclass(cls, django_filters.FilterSet):
        # A filter builds its form field once and keeps it; a copy keeps the class's filters
        # unbuilt, so each FilterSet instance still gets the querysets its __init__ sets.
        return {name: copy.deepcopy(f).field for name, f in cls.base_filters.items()}
    return dict(cls.base_fields)


INTEGERS = [
    str(INT32_MAX),
    str(INT32_MAX + 1),
    str(-(2**31) - 1),
    str(2**63 - 1),
    str(2**63),
    str(-(2**63) - 1),
    "-1",
    "0",
    "1e309",
]
PKS = [str(2**63), str(2**63 - 1), str(INT32_MAX + 1), "-1", "0", "1e3"]
DATES = ["0001-01-01", "9999-12-31", "0000-00-00", "10000-01-01", "2026-02-30"]
DATETIMES = [
    "0001-01-01T00:00:00",
    "0001-01-01 00:00",
    "9999-12-31T23:59:59",
    "9999-12-31 23:59:59.999999",
]
STRINGS = ["", "x" * 10_000, "a\x00b", "\x00"]


def boundary_values(form_field: forms.Field) -> list[str]:
    values = list(STRINGS)
    if isinstance(form_field, forms.DateTimeField):
        values += DATETIMES + DATES
    elif isinstance(form_field, forms.DateField):
        values += DATES
    elif isinstance(form_field, (forms.ModelChoiceField, forms.TypedMultipleChoiceField)):
        values += PKS
    elif isinstance(form_field, (forms.IntegerField, forms.DecimalField, forms.FloatField)):
        values += INTEGERS
    elif isinstance(form_field, forms.TypedChoiceField):
        values += ["unknown-choice", *INTEGERS]
    elif isinstance(form_field, forms.ChoiceField):
        values += ["unknown-choice", "x" * 300]
    elif isinstance(form_field, forms.BooleanField):
        values += ["on", "false"]
    return values


def test_every_form_and_filter_has_a_page():
    assert CLASSES, "no forms found: the walk of the triage package is broken"
    missing = sorted(set(CLASSES) - set(PAGES))
    assert not missing, f"add the page that uses each of these to PAGES: {missing}"
    stale = sorted(set(PAGES) - set(CLASSES))
    assert not stale, f"PAGES names classes that no longer exist: {stale}"


def test_integer_fields_fit_the_database_column():
    """An integer read from a form may be stored (a comment's line number): it must fit a
    32-bit column on every database, not only on SQLite's 64-bit integers."""
    unbounded = []
    for name, cls in CLASSES.items():
        for field_name, form_field in fields_of(cls).items():
            if not isinstance(form_field, forms.IntegerField):
                continue
            if form_field.max_value is None or form_field.max_value > INT32_MAX:
                unbounded.append(f"{name}.{field_name} (max {form_field.max_value})")
            if form_field.min_value is None or form_field.min_value < -(2**31):
                unbounded.append(f"{name}.{field_name} (min {form_field.min_value})")
    assert not unbounded


@pytest.fixture
def world(team, member, sandbox_transport):
    return VictimWorld(team=team, owner=member(Role.ADMIN, username="owner-admin"))


def _resolve(value, world):
    """Page data naming a world object ("finding") stands for its key."""
    special = {
        "finding": lambda: world.finding.pk,
        "membership": lambda: world.team.memberships.exclude(user=world.owner).first().pk,
        "diff_sha256": lambda: world.diff_version.sha256,
    }
    return special[value]() if value in special else value


@pytest.mark.slow
@pytest.mark.parametrize("qualname", sorted(PAGES))
def test_boundary_values_never_answer_a_server_error(
    qualname, world, member, client_as, django_capture_on_commit_callbacks
):
    from django.test import Client

    from tests.factories import UserFactory

    member(Role.TRIAGER, username="other-member")
    form_fields = fields_of(CLASSES[qualname])
    failures = []
    for page in PAGES[qualname]:
        if page.superuser:
            client = Client()
            client.force_login(UserFactory(is_staff=True, is_superuser=True))
        else:
            client = client_as(world.owner)
        kwargs = {k: getattr(world, v).pk for k, v in page.kwargs.items()}
        if page.team:
            kwargs["team_slug"] = world.team.slug
        url = reverse(page.name, kwargs=kwargs)
        base = {k: _resolve(v, world) for k, v in page.data.items()}
        for field_name, form_field in form_fields.items():
            for value in boundary_values(form_field):
                data = {**base, field_name: value}
                with django_capture_on_commit_callbacks(execute=False):
                    try:
                        response = getattr(client, page.method)(url, data)
                    except Exception as exc:  # the failure is the report
                        failures.append((page.name, field_name, value[:40], repr(exc)[:200]))
                        continue
                if response.status_code >= 500:
                    failures.append((page.name, field_name, value[:40], response.status_code))
    assert not failures, failures


@pytest.mark.parametrize("name", ["first_detected_before", "last_detected_before"])
def test_a_far_date_is_refused_in_the_words_of_the_form(name, world, client_as):
    """9999-12-31 once overflowed the end-of-day arithmetic and answered 500."""
    url = reverse("findings", kwargs={"team_slug": world.team.slug})
    response = client_as(world.owner).get(url, {name: "9999-12-31"})
    assert response.status_code == 200
    assert (
        "“9999-12-31” is outside the dates the portal reads (1 Jan 1900 to 31 Dec 2999)."
        in response.content.decode()
    )
