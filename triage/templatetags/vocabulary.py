"""Labels of the domain's values for templates that hold a bare value (a dict key, a job's
target status): `{{ severity|severity_label }}`. The labels themselves live on the models."""

from functools import partial

from django import template
from django.db import models

from triage.models import (
    FindingStatus,
    PullRequest,
    ScanBatchStatus,
    ScanType,
    Severity,
    label_of,
)

register = template.Library()

# One filter per vocabulary, named after the value it labels. `scan_status_label` serves a
# scan batch's status and one source repository's status within it.
LABEL_FILTERS: dict[str, type[models.TextChoices]] = {
    "severity_label": Severity,
    "finding_status_label": FindingStatus,
    "scan_type_label": ScanType,
    "scan_status_label": ScanBatchStatus,
    "merge_status_label": PullRequest.MergeStatus,
}
for _name, _choices in LABEL_FILTERS.items():
    register.filter(_name, partial(label_of, _choices))


@register.filter
def words(value: str | None) -> str:
    """An internal name with no label of its own (a sync's row kinds: ``scan_batches``) as
    words."""
    return (value or "").replace("_", " ")
