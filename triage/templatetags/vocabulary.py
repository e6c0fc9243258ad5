"""Labels of the domain's values for templates that hold a bare value (a dict key, a job's
target status): `{{ severity|severity_label }}`. The labels themselves live on the models."""

from django import template

from triage.models import FindingStatus, ScanType, Severity, label_of

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
