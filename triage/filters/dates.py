"""Date filters whose values are refused, in the words of the form, when the day arithmetic of
a filter (the end of a day, a time zone) cannot reach them (see `triage.forms.dates`)."""

import django_filters

from triage.forms.dates import BoundedDateField


class BoundedDateFilter(django_filters.DateFilter):
    field_class = BoundedDateField
