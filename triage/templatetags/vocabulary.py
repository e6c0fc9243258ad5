"""Labels of the domain's values for templates that hold a bare value (a dict key, a job's
target status): `{{ severity|severity_label }}`. The labels themselves live on the models."""

from django import template

from triage.models import (
    FindingStatus,
    PullRequest,
    ScanBatchStatus,
    ScanType,
    Severity,
    label_of,
)

register = template.Library()


@register.filter
def severity_label(value: str | None) -> str:
    return label_of(Severity, value)


@register.filter
def finding_status_label(value: str | None) -> str:
    return label_of(FindingStatus, value)


@register.filter
def scan_type_label(value: str | None) -> str:
    return label_of(ScanType, value)


@register.filter
def scan_status_label(value: str | None) -> str:
    """A scan batch's status, or one source repository's within it."""
    return label_of(ScanBatchStatus, value)


@register.filter
def merge_status_label(value: str | None) -> str:
    return label_of(PullRequest.MergeStatus, value)


@register.filter
def words(value: str | None) -> str:
    """An internal name with no label of its own (a sync's row kinds: ``scan_batches``) as
    words."""
    return (value or "").replace("_", " ")
