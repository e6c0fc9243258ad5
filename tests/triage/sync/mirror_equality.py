"""Comparing the mirror with what Kolega answers, field by field, through the client."""

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
    FINDING_FIELDS,
    FIX_FIELDS,
    PULL_REQUEST_FIELDS,
    SCAN_BATCH_FIELDS,
    pull_request_upstream_id,
)

EVENT_FIELDS = [
    "organization_id",
    "scan_id",
    "scan_type",
    "event_type",
    "previous_status",
    "new_status",
    "severity",
    "check_id",
    "file_path",
    "actor_user_id",
    "metadata",
    "event_timestamp",
    "created_at",
]


def _differences(kind: str, upstream_id: str, mirrored: dict, upstream: dict) -> list[str]:
    return [
        f"{kind} {upstream_id}.{name}: mirror {mirrored[name]!r} != kolega {upstream[name]!r}"
        for name in upstream
        if mirrored[name] != upstream[name]
    ]


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
    batch_ids, finding_ids, fix_ids, pr_ids = set(), set(), set(), set()
    for repository in repositories:
        row = mirrored_repositories.get(repository.id)
        if row is None:
            continue
        problems += _differences(
            "repository",
            repository.id,
            {
                "name": row.name,
                "description": row.description,
                "archived": row.archived,
                "repositories": row.source_repos,
                "created_at": row.created_at,
                "updated_at": row.updated_at,
            },
            {
                "name": repository.name,
                "description": repository.description,
                "archived": repository.archived,
                "repositories": [ref.model_dump(mode="json") for ref in repository.repositories],
                "created_at": repository.created_at,
                "updated_at": repository.updated_at,
            },
        )
        for batch in iter_all(kolega.list_scans, repository_id=repository.id):
            batch_ids.add(batch.batch_id)
            mirrored = ScanBatch.objects.filter(
                connection=connection, upstream_id=batch.batch_id
            ).first()
            if mirrored is None:
                problems.append(f"scan batch {batch.batch_id} missing")
                continue
            problems += _differences(
                "scan batch",
                batch.batch_id,
                {
                    name: getattr(mirrored, name)
                    for name in SCAN_BATCH_FIELDS
                    if name != "repository"
                }
                | {"repository_id": mirrored.repository.upstream_id},
                {name: getattr(batch, name) for name in SCAN_BATCH_FIELDS if name != "repository"}
                | {"repository_id": batch.repository_id},
            )
            if batch.status.lower() in ("completed", "partial_failure", "failed"):
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
            finding_ids.add(finding.id)
            mirrored = Finding.objects.filter(connection=connection, upstream_id=finding.id).first()
            if mirrored is None:
                problems.append(f"finding {finding.id} missing")
                continue
            names = [n for n in FINDING_FIELDS if n not in ("repository", "search_text")]
            problems += _differences(
                "finding",
                finding.id,
                {n: getattr(mirrored, n) for n in names}
                | {"repository_id": mirrored.repository.upstream_id},
                {n: getattr(finding, n) for n in names} | {"repository_id": finding.repository_id},
            )
        for fix in iter_all(kolega.list_fixes, repository_id=repository.id):
            fix_ids.add(fix.id)
            mirrored = Fix.objects.filter(connection=connection, upstream_id=fix.id).first()
            if mirrored is None:
                problems.append(f"fix {fix.id} missing")
                continue
            names = [n for n in FIX_FIELDS if n != "repository"]
            problems += _differences(
                "fix",
                fix.id,
                {n: getattr(mirrored, n) for n in names},
                {n: getattr(fix, n) for n in names},
            )
            if fix.status == "completed":
                diff = kolega.get_fix_diff(repository_id=repository.id, fix_id=fix.id).diff
                if mirrored.diff != diff:
                    problems.append(f"fix {fix.id} diff differs")
            for pr in fix.pull_requests:
                pr_ids.add(pull_request_upstream_id(pr))
                row = PullRequest.objects.filter(
                    connection=connection, upstream_id=pull_request_upstream_id(pr)
                ).first()
                if row is None:
                    problems.append(f"pull request {pr.pr_url} missing")
                    continue
                names = [n for n in PULL_REQUEST_FIELDS if n != "fix"]
                problems += _differences(
                    "pull request",
                    pr.pr_url,
                    {n: getattr(row, n) for n in names} | {"fix": row.fix.upstream_id},
                    {n: getattr(pr, n) for n in names} | {"fix": fix.id},
                )
    for model, ids, kind in (
        (ScanBatch, batch_ids, "scan batches"),
        (Finding, finding_ids, "findings"),
        (Fix, fix_ids, "fixes"),
        (PullRequest, pr_ids, "pull requests"),
    ):
        extra = (
            set(model.objects.filter(connection=connection).values_list("upstream_id", flat=True))
            - ids
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
            {n: getattr(row, n) for n in EVENT_FIELDS}
            | {"finding_id": row.finding_upstream_id, "repository_id": row.repository_upstream_id},
            {n: getattr(event, n) for n in EVENT_FIELDS}
            | {"finding_id": event.finding_id, "repository_id": event.repository_id},
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
