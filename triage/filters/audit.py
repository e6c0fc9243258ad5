"""Filters of the audit log: who did it, and what (an action or its prefix, e.g. ``member.``)."""

import django_filters
from django import forms

from triage.models import AuditEvent


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
        actors = events.order_by("actor_label").values_list("actor_label", flat=True).distinct()
        actions = events.order_by("action").values_list("action", flat=True).distinct()
        self.form.fields["actor"].widget.choices = [("", "Anyone"), *((a, a) for a in actors)]
        self.form.fields["action"].widget.choices = [("", "Any"), *((a, a) for a in actions)]
        self.form.auto_id = "audit-%s"
