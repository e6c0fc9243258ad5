"""Filters of the audit log: who did it, and what (an action or its prefix, e.g. ``member.``)."""

import django_filters
from django import forms

from triage.models import AuditEvent


def _refused(value: str) -> forms.ValidationError:
    return forms.ValidationError(
        "Not one of the choices.", code="invalid_choice", params={"value": value}
    )


def _one_of(values: list[str]):
    def validate(value: str) -> None:
        if value not in values:
            raise _refused(value)

    return validate


def _prefix_of(values: list[str]):
    """An action, or the start of some (``member.`` for every member action)."""

    def validate(value: str) -> None:
        if not any(action.startswith(value) for action in values):
            raise _refused(value)

    return validate


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(
        field_name="actor_label", label="Actor", max_length=150, widget=forms.Select
    )
    action = django_filters.CharFilter(
        lookup_expr="startswith", label="Action", max_length=64, widget=forms.Select
    )

    class Meta:
        model = AuditEvent
        fields = ["actor", "action"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The menus offer what the team's log holds (the queryset is the team's events).
        events = self.queryset.order_by()
        actors = list(
            events.order_by("actor_label").values_list("actor_label", flat=True).distinct()
        )
        actions = list(events.order_by("action").values_list("action", flat=True).distinct())
        self.form.fields["actor"].widget.choices = [("", "Anyone"), *((a, a) for a in actors)]
        self.form.fields["action"].widget.choices = [("", "Any"), *((a, a) for a in actions)]
        # A value the log does not hold is refused, so the page says the filter was ignored.
        self.form.fields["actor"].validators.append(_one_of(actors))
        self.form.fields["action"].validators.append(_prefix_of(actions))
        self.form.auto_id = "audit-%s"
