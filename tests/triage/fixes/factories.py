import hashlib

import factory
from django.utils import timezone

from tests.factories import KolegaConnectionFactory, TeamFactory
from triage.models import Finding, Fix, Repository

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


class RepositoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Repository

    team = factory.SubFactory(TeamFactory)
    connection = factory.SubFactory(KolegaConnectionFactory, team=factory.SelfAttribute("..team"))
    upstream_id = factory.Sequence(lambda n: f"repo-{n}")
    synced_at = factory.LazyFunction(timezone.now)
    name = factory.Sequence(lambda n: f"repo-{n}")
    source_repos = factory.LazyFunction(
        lambda: [
            {
                "full_name": "acme/app",
                "default_branch": "main",
                "html_url": "https://example.com/acme/app",
                "provider": "github",
            }
        ]
    )
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)


class FindingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Finding

    repository = factory.SubFactory(RepositoryFactory)
    team = factory.SelfAttribute("repository.team")
    connection = factory.SelfAttribute("repository.connection")
    upstream_id = factory.Sequence(lambda n: f"finding-{n}")
    synced_at = factory.LazyFunction(timezone.now)
    check_id = "python.sql-injection"
    severity = "high"
    status = "open"
    file_path = "app/db.py"
    message = "SQL built from user input"
    title = "SQL injection"
    category = "injection"
    scan_type = "semgrep_scan"
    first_detected_at = factory.LazyFunction(timezone.now)
    last_detected_at = factory.LazyFunction(timezone.now)
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyFunction(timezone.now)


class FixFactory(factory.django.DjangoModelFactory):
    """A mirrored fix; completed with SAMPLE_DIFF unless told otherwise."""

    class Meta:
        model = Fix

    repository = factory.SubFactory(RepositoryFactory)
    team = factory.SelfAttribute("repository.team")
    connection = factory.SelfAttribute("repository.connection")
    upstream_id = factory.Sequence(lambda n: f"fix-{n}")
    synced_at = factory.LazyFunction(timezone.now)
    finding_ids = factory.LazyFunction(list)
    title = "Fix SQL injection"
    status = "completed"
    source_repo = "acme/app"
    created_at = factory.LazyFunction(timezone.now)
    completed_at = factory.LazyFunction(timezone.now)
    diff = SAMPLE_DIFF
    diff_sha256 = factory.LazyAttribute(lambda fix: sha(fix.diff) if fix.diff else "")
    diff_for_completed_at = factory.SelfAttribute("completed_at")
    diff_synced_at = factory.LazyFunction(timezone.now)
