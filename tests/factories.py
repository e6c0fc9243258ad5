"""One factory per model, for rows whose behaviour under test does not depend on how they
were written (sync, services). Tests that need Kolega's own answers use the sandbox fixtures.

Mirror rows are stamped "now" (findings first detected ten days ago) unless made with
``at=<datetime>``: then every timestamp of the row, and of the rows made for it, is that
instant, so a test can compute its figures by hand.
"""

import hashlib
from datetime import UTC, datetime, timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from triage.models import (
    DismissalRequest,
    DismissalRequestItem,
    Finding,
    FindingEvent,
    FindingSearch,
    Fix,
    FixApproval,
    FixDiffVersion,
    KolegaConnection,
    Membership,
    PullRequest,
    Repository,
    ReviewComment,
    Role,
    ScanBatch,
    ScanBatchFinding,
    Team,
)

TEST_PASSWORD = "correct-horse-battery-staple"

# The instant report tests stamp their rows with (``at=T0``).
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    """The UTC instant of ``text``, ISO 8601 without a zone: ``at("2026-03-20T12:00")``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


SAMPLE_DIFF = """diff --git a/app/db.py b/app/db.py
--- a/app/db.py
+++ b/app/db.py
@@ -1,3 +1,3 @@
 def find(cursor, name):
-    cursor.execute("SELECT * FROM users WHERE name = '%s'" % name)
+    cursor.execute("SELECT * FROM users WHERE name = %s", (name,))
     return cursor.fetchall()
diff --git a/app/views.py b/app/views.py
--- a/app/views.py
+++ b/app/views.py
@@ -10,3 +10,4 @@ def page(request):
     name = request.GET["name"]
-    return HttpResponse("<p>" + name + "</p>")
+    return HttpResponse(format_html("<p>{}</p>", name))
+    # <script>alert(1)</script>
"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def link(batch: ScanBatch, *findings: Finding) -> None:
    """Record that ``batch`` reported ``findings``."""
    ScanBatchFinding.objects.bulk_create(
        ScanBatchFinding(scan_batch=batch, finding=finding) for finding in findings
    )


def stamped(ago: timedelta = timedelta(0)):
    """The row's ``at`` if it has one, else now less ``ago``."""
    return factory.LazyAttribute(lambda row: row.at or timezone.now() - ago)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.VIEWER

    class Params:
        admin = factory.Trait(role=Role.ADMIN)
        triager = factory.Trait(role=Role.TRIAGER)
        approver = factory.Trait(role=Role.APPROVER)


class KolegaConnectionFactory(factory.django.DjangoModelFactory):
    """A stored connection without a key check; use the sandbox fixtures for a real one."""

    class Meta:
        model = KolegaConnection

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Org {n}")
    base_url = "http://sandbox.test/sandbox"
    api_key = factory.Sequence(lambda n: f"kcp_test_factorykey{n:08d}")
    organization_id = factory.Sequence(lambda n: f"org-{n}")
    organization_name = factory.LazyAttribute(lambda c: c.name)
    organization_slug = factory.LazyAttribute(lambda c: c.organization_id)
    key_prefix = "kcp_test_fac"
    scopes = factory.LazyFunction(lambda: ["read", "write"])


class RepositoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Repository

    class Params:
        at = None

    team = factory.SubFactory(TeamFactory)
    connection = factory.SubFactory(KolegaConnectionFactory, team=factory.SelfAttribute("..team"))
    upstream_id = factory.Sequence(lambda n: f"repo-{n}")
    name = factory.Sequence(lambda n: f"service-{n:03d}")
    source_repos = factory.LazyAttribute(
        lambda r: [
            {
                "full_name": f"acme/{r.name}",
                "default_branch": "main",
                "html_url": f"https://github.com/acme/{r.name}",
                "provider": "github",
            }
        ]
    )
    synced_at = stamped()
    created_at = stamped()
    updated_at = stamped()


def row_of(parent: str, parent_factory) -> type[factory.django.DjangoModelFactory]:
    """The abstract factory of a mirror row that belongs to a ``parent`` row (made by
    ``parent_factory`` at the same ``at``), in that row's team and connection."""

    class Meta:
        abstract = True

    class Params:
        at = None

    declarations = {
        "Meta": Meta,
        "Params": Params,
        parent: factory.SubFactory(parent_factory, at=factory.SelfAttribute("..at")),
        "team": factory.SelfAttribute(f"{parent}.team"),
        "connection": factory.SelfAttribute(f"{parent}.connection"),
        "synced_at": stamped(),
        "created_at": stamped(),
    }
    name = f"{parent.title()}RowFactory"
    return type(name, (factory.django.DjangoModelFactory,), declarations)


# A mirror row of one repository, in that repository's team and connection.
RepositoryRowFactory = row_of("repository", RepositoryFactory)


class ScanBatchFactory(RepositoryRowFactory):
    """A finished scan batch of one repository; pass ``status`` for one still running."""

    class Meta:
        model = ScanBatch

    upstream_id = factory.Sequence(lambda n: f"batch-{n}")
    # Finished (made ``at=``: at the instant it was created), every scan of it completed.
    completed_at = factory.Maybe("at", factory.SelfAttribute("created_at"))
    status = "completed"
    percent_complete = 100.0
    total_repositories = 1
    scans_created = 1
    scans_completed = 1
    scan_type = "semgrep_scan"


class FindingFactory(RepositoryRowFactory):
    """An open SQL injection; first detected ten days ago, last seen yesterday."""

    class Meta:
        model = Finding
        skip_postgeneration_save = True

    upstream_id = factory.Sequence(lambda n: f"finding-{n}")
    check_id = "python.lang.security.sql-injection"
    severity = "high"
    status = "open"
    file_path = factory.Sequence(lambda n: f"app/module_{n:04d}.py")
    title = "SQL injection"
    message = "User input reaches a SQL query."
    category = "injection"
    scan_type = "semgrep_scan"
    cwe = factory.LazyFunction(lambda: ["CWE-89"])
    owasp = factory.LazyFunction(lambda: ["A03:2021 - Injection"])
    first_detected_at = stamped(ago=timedelta(days=10))
    last_detected_at = factory.Maybe(
        "at", factory.SelfAttribute("first_detected_at"), stamped(ago=timedelta(days=1))
    )
    created_at = factory.SelfAttribute("first_detected_at")
    updated_at = factory.Maybe("at", factory.SelfAttribute("first_detected_at"), stamped())

    @factory.post_generation
    def search(finding, create, extracted, **kwargs):
        """The text the findings page searches, stored as the sync stores it."""
        if create:
            FindingSearch.objects.write_of([finding])


class FindingEventFactory(factory.django.DjangoModelFactory):
    """An event of ``finding=`` (its team, connection and ids); without one, pass
    ``connection=`` and the ids the event names."""

    class Meta:
        model = FindingEvent

    class Params:
        at = None
        finding = None

    connection = factory.Maybe(
        "finding",
        factory.SelfAttribute("finding.connection"),
        factory.SubFactory(KolegaConnectionFactory),
    )
    team = factory.SelfAttribute("connection.team")
    upstream_id = factory.Sequence(lambda n: f"event-{n}")
    organization_id = "org"
    repository_upstream_id = factory.Maybe(
        "finding", factory.SelfAttribute("finding.repository.upstream_id"), "repo"
    )
    finding_upstream_id = factory.Maybe("finding", factory.SelfAttribute("finding.upstream_id"))
    severity = factory.Maybe("finding", factory.SelfAttribute("finding.severity"))
    event_type = "detected"
    new_status = "open"
    event_timestamp = stamped()
    created_at = factory.SelfAttribute("event_timestamp")
    synced_at = stamped()


class FixFactory(RepositoryRowFactory):
    """A mirrored fix, completed with SAMPLE_DIFF; ``running=True`` for one still at work."""

    class Meta:
        model = Fix

    class Params:
        running = factory.Trait(
            status="running", completed_at=None, diff=None, diff_for_completed_at=None
        )

    upstream_id = factory.Sequence(lambda n: f"fix-{n}")
    finding_ids = factory.LazyFunction(list)
    title = "Fix SQL injection"
    status = "completed"
    source_repo = "acme/app"
    completed_at = stamped()
    diff = SAMPLE_DIFF
    diff_sha256 = factory.LazyAttribute(lambda fix: sha(fix.diff) if fix.diff else "")
    diff_for_completed_at = factory.SelfAttribute("completed_at")
    diff_synced_at = stamped()


class PullRequestFactory(row_of("fix", FixFactory)):
    """An open pull request of a fix, in the fix's source repository."""

    class Meta:
        model = PullRequest

    repo_full_name = factory.SelfAttribute("fix.source_repo")
    pr_number = factory.Sequence(lambda n: 100 + n)
    upstream_id = factory.LazyAttribute(lambda p: f"{p.repo_full_name}#{p.pr_number}")
    branch_name = "kolega/fix"
    pr_url = factory.LazyAttribute(
        lambda p: f"https://github.com/{p.repo_full_name}/pull/{p.pr_number}"
    )
    merge_status = "open"


class FixDiffVersionFactory(factory.django.DjangoModelFactory):
    """Version 1 of a fix's diff, kept as its diff is now; pass ``diff=`` for an older one."""

    class Meta:
        model = FixDiffVersion

    fix = factory.SubFactory(FixFactory)
    team = factory.SelfAttribute("fix.team")
    number = 1
    diff = factory.SelfAttribute("fix.diff")
    sha256 = factory.LazyAttribute(lambda version: sha(version.diff))


class FixApprovalFactory(factory.django.DjangoModelFactory):
    """A pending request, by a new user, to approve the fix's current diff."""

    class Meta:
        model = FixApproval

    fix = factory.SubFactory(FixFactory)
    team = factory.SelfAttribute("fix.team")
    requested_by = factory.SubFactory(UserFactory)
    diff_sha256 = factory.SelfAttribute("fix.diff_sha256")


class ReviewCommentFactory(factory.django.DjangoModelFactory):
    """A new user's comment on line 1 of the new side of SAMPLE_DIFF's first file, on the
    fix's current diff."""

    class Meta:
        model = ReviewComment

    fix = factory.SubFactory(FixFactory)
    team = factory.SelfAttribute("fix.team")
    diff_sha256 = factory.SelfAttribute("fix.diff_sha256")
    file_path = "app/db.py"
    side = "new"
    line = 1
    author = factory.SubFactory(UserFactory)
    body = "Looks right to me."


class DismissalRequestFactory(factory.django.DjangoModelFactory):
    """A pending request, by a new user, that ``findings=`` (a list, each an item remembering
    its status of now) be ignored; items of a request made ``status="applied"`` are applied."""

    class Meta:
        model = DismissalRequest
        skip_postgeneration_save = True

    team = factory.SubFactory(TeamFactory)
    requested_by = factory.SubFactory(UserFactory)
    requested_status = "ignored"
    reason = "Accepted risk until the migration"

    @factory.post_generation
    def findings(request, create, extracted, **kwargs):
        findings = list(extracted or ())
        if not create or not findings:
            return
        applied = request.status == DismissalRequest.Status.APPLIED
        DismissalRequestItem.objects.bulk_create(
            DismissalRequestItem(
                request=request, finding=finding, previous_status=finding.status, applied=applied
            )
            for finding in findings
        )
        request.total = len(findings)
        request.save(update_fields=["total"])


def finding_status_job(team, *, state: str, outcomes, repository=None):
    """A bulk change to "resolved" with one item per outcome (``"changed"``, ``"failed"``,
    ``"pending"`` …), each for a new finding of ``repository`` (a new repository of ``team``
    when not given), its counts worked out as the worker works them out."""
    from triage.models import FindingStatusJob, FindingStatusJobItem
    from triage.services.findings import _recount

    repository = repository or RepositoryFactory(team=team)
    job = FindingStatusJob.objects.create(
        team=team, target_status="resolved", state=state, total=len(outcomes)
    )
    for outcome in outcomes:
        finding = FindingFactory(repository=repository)
        FindingStatusJobItem.objects.create(
            job=job,
            finding=finding,
            connection=repository.connection,
            finding_upstream_id=finding.upstream_id,
            repository_upstream_id=repository.upstream_id,
            previous_status="open",
            target_status="resolved",
            outcome=outcome,
            reason="Kolega is unreachable (HTTP 503)." if outcome == "failed" else "",
        )
    _recount(job)
    return job
