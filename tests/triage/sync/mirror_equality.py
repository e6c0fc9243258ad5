"""Comparing the mirror with what Kolega answers, field by field, through the client."""

from operator import attrgetter

from triage.kolega import KolegaClient, iter_all
from triage.models import (
    Finding,
    FindingEvent,
    Fix,
    KolegaConnection,
    PullRequest,
    Repository,
    ScanBatch,
    ScanBatchFinding,
)
from triage.sync.rows import (
    FINDING_EVENT_COPIED,
    FINDING_FIELDS,
    FIX_FIELDS,
    PULL_REQUEST_FIELDS,
    SCAN_BATCH_FIELDS,
    pull_request_upstream_id,
)

SETTLED_SCAN_STATUSES = ("completed", "partial_failure", "failed")

# Events copy their fields as they are, and their metadata as a whole.
EVENT_FIELDS = [*FINDING_EVENT_COPIED, "metadata"]


def _differences(kind: str, label: str, row, item, names, also=None) -> list[str]:
    """The fields ``names`` on which the mirror's ``row`` and Kolega's ``item`` differ, one
    line each; ``also`` maps more names to (a dotted attribute of the row, Kolega's value)."""
    mirrored = {n: getattr(row, n) for n in names}
    upstream = {n: getattr(item, n) for n in names}
    for name, (path, value) in (also or {}).items():
        mirrored[name] = attrgetter(path)(row)
        upstream[name] = value
    return [
        f"{kind} {label}.{name}: mirror {mirrored[name]!r} != kolega {upstream[name]!r}"
        for name in upstream
        if mirrored[name] != upstream[name]
    ]


REPOSITORY_NAMES = ["name", "description", "archived", "created_at", "updated_at"]
SCAN_BATCH_NAMES = [n for n in SCAN_BATCH_FIELDS if n != "repository"]
FINDING_NAMES = [n for n in FINDING_FIELDS if n != "repository"]
FIX_NAMES = [n for n in FIX_FIELDS if n != "repository"]
PULL_REQUEST_NAMES = [n for n in PULL_REQUEST_FIELDS if n != "fix"]


def mirror_differences(connection: KolegaConnection, kolega: KolegaClient) -> list[str]:
    """Every way the mirror differs from Kolega; empty when they are equal."""
    problems: list[str] = []
    repositories = list(iter_all(kolega.list_repositories, include_archived=True))
    mirrored_repositories = {
        r.upstream_id: r for r in Repository.objects.filter(connection=connection)
    }
    listed_repositories = {r.id for r in repositories}
    if set(mirrored_repositories) - listed_repositories:
        problems.append("repositories in the mirror that Kolega does not list")
    if listed_repositories - set(mirrored_repositories):
        problems.append("repositories missing")
    seen: dict[type, set[str]] = {ScanBatch: set(), Finding: set(), Fix: set(), PullRequest: set()}

    def compare(model, kind, upstream_id, item, names, *, label=None, also=None):
        """Compare Kolega's ``item`` with the mirror's row of ``upstream_id``, noted as seen;
        the row, or None (and a problem) if it is missing."""
        seen[model].add(upstream_id)
        row = model.objects.filter(connection=connection, upstream_id=upstream_id).first()
        if row is None:
            problems.append(f"{kind} {label or upstream_id} missing")
        else:
            problems.extend(_differences(kind, label or upstream_id, row, item, names, also))
        return row

    for repository in repositories:
        row = mirrored_repositories.get(repository.id)
        if row is None:
            continue
        refs = [ref.model_dump(mode="json") for ref in repository.repositories]
        problems += _differences(
            "repository",
            repository.id,
            row,
            repository,
            REPOSITORY_NAMES,
            also={"repositories": ("source_repos", refs)},
        )
        for batch in iter_all(kolega.list_scans, repository_id=repository.id):
            in_repository = {"repository_id": ("repository.upstream_id", batch.repository_id)}
            mirrored = compare(
                ScanBatch, "scan batch", batch.batch_id, batch, SCAN_BATCH_NAMES, also=in_repository
            )
            if mirrored is not None and batch.status.lower() in SETTLED_SCAN_STATUSES:
                listed = {
                    f.id
                    for f in iter_all(
                        kolega.list_findings,
                        repository_id=repository.id,
                        scan_batch_id=batch.batch_id,
                    )
                }
                linked = set(
                    ScanBatchFinding.objects.filter(scan_batch=mirrored).values_list(
                        "finding__upstream_id", flat=True
                    )
                )
                if listed != linked:
                    problems.append(
                        f"scan batch {batch.batch_id} findings: {len(linked)} linked,"
                        f" {len(listed)} listed"
                    )
        for finding in iter_all(kolega.list_findings, repository_id=repository.id):
            also = {
                "repository_id": ("repository.upstream_id", finding.repository_id),
                # The text the findings page searches, kept beside the finding.
                "search_text": (
                    "search.text",
                    Finding.search_text_of(
                        title=finding.title,
                        message=finding.message,
                        check_id=finding.check_id,
                        file_path=finding.file_path,
                    ),
                ),
            }
            compare(Finding, "finding", finding.id, finding, FINDING_NAMES, also=also)
        for fix in iter_all(kolega.list_fixes, repository_id=repository.id):
            mirrored = compare(Fix, "fix", fix.id, fix, FIX_NAMES)
            if mirrored is not None and fix.status == "completed":
                diff = kolega.get_fix_diff(repository_id=repository.id, fix_id=fix.id).diff
                if mirrored.diff != diff:
                    problems.append(f"fix {fix.id} diff differs")
            for pr in fix.pull_requests:
                compare(
                    PullRequest,
                    "pull request",
                    pull_request_upstream_id(pr),
                    pr,
                    PULL_REQUEST_NAMES,
                    label=pr.pr_url,
                    also={"fix": ("fix.upstream_id", fix.id)},
                )
    for model, kind in (
        (ScanBatch, "scan batches"),
        (Finding, "findings"),
        (Fix, "fixes"),
        (PullRequest, "pull requests"),
    ):
        extra = (
            set(model.objects.filter(connection=connection).values_list("upstream_id", flat=True))
            - seen[model]
        )
        if extra:
            problems.append(f"{len(extra)} {kind} in the mirror that Kolega does not list")
    events = list(iter_all(kolega.list_finding_events))
    mirrored_events = {e.upstream_id: e for e in FindingEvent.objects.filter(connection=connection)}
    if set(mirrored_events) != {e.id for e in events}:
        problems.append(f"finding events: {len(mirrored_events)} mirrored, {len(events)} listed")
    for event in events:
        row = mirrored_events.get(event.id)
        if row is None:
            continue
        problems += _differences(
            "event",
            event.id,
            row,
            event,
            EVENT_FIELDS,
            also={
                "finding_id": ("finding_upstream_id", event.finding_id),
                "repository_id": ("repository_upstream_id", event.repository_id),
            },
        )
    return problems


def mirror_snapshot(connection: KolegaConnection) -> dict:
    """Every mirrored row of the connection, without the time it was last written."""
    snapshot = {}
    for model in (Repository, ScanBatch, Finding, FindingEvent, Fix, PullRequest):
        snapshot[model.__name__] = sorted(
            (
                tuple(
                    (field.attname, getattr(row, field.attname))
                    for field in model._meta.concrete_fields
                    if field.attname not in ("synced_at", "progress_synced_at", "diff_synced_at")
                )
                for row in model.objects.filter(connection=connection)
            ),
            key=repr,
        )
    snapshot["ScanBatchFinding"] = sorted(
        ScanBatchFinding.objects.filter(scan_batch__connection=connection).values_list(
            "scan_batch_id", "finding_id"
        )
    )
    return snapshot
