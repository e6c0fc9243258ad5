"""Filters of the audit log: who did it, what (an action or its prefix, e.g. ``member.``), and
between which days (inclusive, in the reader's time zone)."""

import django_filters
from django import forms

from triage.filters.dates import BoundedDateFilter
from triage.models import AuditEvent
from triage.selectors.audit import action_label


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter(
        field_name="actor_label", label="Actor", max_length=150, widget=forms.Select
    )
    action = django_filters.CharFilter(
        lookup_expr="startswith", label="Action", max_length=64, widget=forms.Select
    )
    date_from = BoundedDateFilter(
        field_name="created_at",
        lookup_expr="date__gte",
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = BoundedDateFilter(
        field_name="created_at",
        lookup_expr="date__lte",
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = AuditEvent
        fields = ["actor", "action", "date_from", "date_to"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The menus offer what the team's log holds (the queryset is the team's events).
        events = self.queryset.order_by()
        actors = events.order_by("actor_label").values_list("actor_label", flat=True).distinct()
        actions = events.order_by("action").values_list("action", flat=True).distinct()
        self._actors, self._actions = list(actors), list(actions)
        self.form.fields["actor"].widget.choices = [
            ("", "Anyone"),
            *((a, a) for a in self._actors),
        ]
        self.form.fields["action"].widget.choices = [
            ("", "Any"),
            *sorted(((a, action_label(a)) for a in self._actions), key=lambda choice: choice[1]),
        ]
        self.form.auto_id = "audit-%s"
        self.form.clean = self._clean_range

    def _clean_range(self):
        data = self.form.cleaned_data
        # A value that matches nothing the log holds is a mistake (an old link, a typo): say so
        # rather than show an empty page that looks like a quiet log.
        actor, action = data.get("actor"), data.get("action")
        if actor and actor not in self._actors:
            self.form.add_error(
                "actor", forms.ValidationError("is nobody in this log.", code="invalid_choice")
            )
        if action and not any(known.startswith(action) for known in self._actions):
            self.form.add_error(
                "action",
                forms.ValidationError("is no kind of event in this log.", code="invalid_choice"),
            )
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.form.add_error(
                "date_to",
                forms.ValidationError(
                    "is earlier than From, so no day could match.", code="before_start"
                ),
            )
        return data
