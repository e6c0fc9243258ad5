"""Rendering of sandbox rows as the contract's response bodies, field for field."""

from datetime import UTC, datetime
from typing import Any

from sandbox.api import Caller
from sandbox.lifecycle import BatchState, FixState
from sandbox.models import Finding, FindingEvent, Fix, PullRequest, Repository, ScanBatch
from sandbox.services.quotas import Counter


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def me_body(caller: Caller) -> dict[str, Any]:
    organization, key = caller.organization, caller.api_key
    return {
        "organization_id": str(organization.id),
        "organization_name": organization.name,
        "organization_slug": organization.slug,
        "api_key": {
            "id": str(key.id),
            "name": key.name,
            "key_prefix": key.key_prefix,
            "scopes": list(key.scopes),
        },
    }


def _counter_body(counter: Counter) -> dict[str, int]:
    return {
        "plan": counter.plan,
        "topup": counter.topup,
        "used": counter.used,
        "remaining": counter.remaining,
    }


def quota_balance_body(balance: dict[str, Any]) -> dict[str, Any]:
    return {
        "period_start": iso(balance["period_start"]),
        "period_end": iso(balance["period_end"]),
        "prs": _counter_body(balance["prs"]),
        "sast_scans": _counter_body(balance["sast_scans"]),
        "deep_ai_scans": _counter_body(balance["deep_ai_scans"]),
        "repositories": dict(balance["repositories"]),
    }


def repository_body(repository: Repository) -> dict[str, Any]:
    return {
        "id": str(repository.id),
        "name": repository.name,
        "description": repository.description,
        "repositories": [
            {
                "full_name": source.full_name,
                "default_branch": source.default_branch,
                "html_url": source.html_url,
                "provider": source.provider,
            }
            for source in repository.source_repos.all()
        ],
        "archived": repository.archived,
        "created_at": iso(repository.created_at),
        "updated_at": iso(repository.updated_at),
    }


def _batch_counts(batch: ScanBatch, state: BatchState) -> dict[str, Any]:
    return {
        "batch_id": str(batch.id),
        "repository_id": str(batch.repository_id),
        "scan_type": batch.scan_type,
        "status": state.status,
        "total_repositories": len(state.runs),
        "scans_created": state.scans_created,
        "scans_failed": state.scans_failed,
        "scans_completed": state.scans_completed,
        "scans_assessed": state.scans_assessed,
    }


def scan_batch_body(batch: ScanBatch, state: BatchState) -> dict[str, Any]:
    return {
        **_batch_counts(batch, state),
        "error_message": state.error_message,
        "created_at": iso(batch.created_at),
        "started_at": iso(state.started_at),
        "completed_at": iso(state.completed_at),
    }


def scan_progress_body(batch: ScanBatch, state: BatchState) -> dict[str, Any]:
    repositories = []
    for run_state in state.runs:
        source = run_state.run.source_repo
        repositories.append(
            {
                "repository": source.full_name,
                "branch": source.default_branch,
                "status": run_state.status,
                "status_reason": run_state.status_reason
                if not state.placeholder_runs
                else "Waiting for the scan to be created",
                "findings_count": run_state.run.findings_count
                if run_state.status == "succeeded"
                else None,
                "started_at": iso(run_state.started_at),
                "completed_at": iso(run_state.completed_at),
            }
        )
    return {
        **_batch_counts(batch, state),
        "percent_complete": state.percent_complete,
        "started_at": iso(state.started_at),
        "completed_at": iso(state.completed_at),
        "error_message": state.error_message,
        "repositories": repositories,
    }


def scan_results_body(batch: ScanBatch, state: BatchState, findings: list[Finding]) -> dict:
    return {
        "batch_id": str(batch.id),
        "scan_type": batch.scan_type,
        "status": state.status,
        "findings_count": len(findings),
        "findings": [
            {
                "check_id": finding.check_id,
                "file_path": finding.file_path,
                "severity": finding.severity,
                "message": finding.message,
                "cwe": list(finding.cwe),
                "owasp": list(finding.owasp),
                "fingerprint": finding.fingerprint,
            }
            for finding in findings
        ],
    }


def finding_body(finding: Finding) -> dict[str, Any]:
    return {
        "id": str(finding.id),
        "repository_id": str(finding.repository_id),
        "check_id": finding.check_id,
        "severity": finding.severity,
        "status": finding.status,
        "file_path": finding.file_path,
        "message": finding.message,
        "title": finding.title,
        "category": finding.category,
        "scan_type": finding.scan_type,
        "cwe": list(finding.cwe),
        "owasp": list(finding.owasp),
        "references": list(finding.references),
        "source_url": finding.source_url,
        "cvss_base_score": finding.cvss_base_score,
        "cvss_severity": finding.cvss_severity,
        "cvss_vector": finding.cvss_vector,
        "first_detected_at": iso(finding.first_detected_at),
        "last_detected_at": iso(finding.last_detected_at),
        "resolved_at": iso(finding.resolved_at),
        "created_at": iso(finding.created_at),
        "updated_at": iso(finding.updated_at),
    }


def finding_event_body(event: FindingEvent) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "organization_id": str(event.organization_id),
        "repository_id": str(event.repository_id),
        "finding_id": str(event.finding_id),
        "scan_id": str(event.scan_batch_id) if event.scan_batch_id else None,
        "scan_type": event.scan_type,
        "event_type": event.event_type,
        "previous_status": event.previous_status,
        "new_status": event.new_status,
        "severity": event.severity,
        "check_id": event.check_id,
        "file_path": event.file_path,
        "actor_user_id": event.actor_user_id,
        "metadata": dict(event.metadata),
        "event_timestamp": iso(event.event_timestamp),
        "created_at": iso(event.created_at),
    }


def pull_request_body(pull_request: PullRequest) -> dict[str, Any]:
    return {
        "repo_full_name": pull_request.repo_full_name,
        "branch_name": pull_request.branch_name,
        "pr_number": pull_request.pr_number,
        "pr_url": pull_request.pr_url,
        "merge_status": pull_request.merge_status,
        "created_at": iso(pull_request.created_at),
        "merged_at": iso(pull_request.merged_at),
    }


def fix_body(fix: Fix, state: FixState) -> dict[str, Any]:
    return {
        "id": str(fix.id),
        "repository_id": str(fix.repository_id),
        "finding_ids": list(fix.finding_ids),
        "title": fix.title,
        "status": state.status,
        "source_repo": fix.source_repo_name,
        "source_repo_provider": fix.source_repo_provider,
        "source_scan_branch": fix.source_scan_branch,
        "source_base_commit_sha": fix.source_base_commit_sha,
        "error_message": state.error_message,
        "pull_requests": [
            pull_request_body(pr) for pr in fix.pull_requests.select_related("source_repo")
        ],
        "created_at": iso(fix.created_at),
        "started_at": iso(state.started_at),
        "completed_at": iso(state.completed_at),
    }


def fix_progress_body(fix: Fix, state: FixState) -> dict[str, Any]:
    return {
        "fix_id": str(fix.id),
        "repository_id": str(fix.repository_id),
        "status": state.status,
        "started_at": iso(state.started_at),
        "completed_at": iso(state.completed_at),
        "duration_seconds": state.duration_seconds,
        "agent_steps_completed": state.agent_steps_completed,
        "latest_activity_at": iso(state.latest_activity_at),
        "error_message": state.error_message,
    }


def fix_diff_body(fix: Fix, state: FixState) -> dict[str, Any]:
    return {
        "fix_id": str(fix.id),
        "status": state.status,
        "diff": fix.diff if state.status == "completed" else None,
    }


def page_body(items: list[dict[str, Any]], *, total: int, limit: int, skip: int) -> dict:
    return {
        "items": items,
        "total": total,
        "limit": limit,
        "skip": skip,
        "has_next": skip + len(items) < total,
    }
