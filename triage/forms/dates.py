"""Dates typed into filters and forms.

A date is turned into the start or end of a day in the viewer's time zone before it reaches a
query; at the ends of Python's range (0001-01-01, 9999-12-31) that arithmetic overflows. Dates
outside a range no team's data can reach are refused in the words of the form instead.
"""

from datetime import date

from django import forms

EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2999, 12, 31)
OUT_OF_RANGE = (
    f"Enter a date between {EARLIEST_DATE.day} {EARLIEST_DATE:%b %Y}"
    f" and {LATEST_DATE.day} {LATEST_DATE:%b %Y}."
)


class BoundedDateField(forms.DateField):
    def validate(self, value):
        super().validate(value)
        if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
            raise forms.ValidationError(OUT_OF_RANGE, code="out_of_range")

    def widget_attrs(self, widget):
        attrs = super().widget_attrs(widget)
        if getattr(widget, "input_type", None) == "date":
            attrs.update(min=EARLIEST_DATE.isoformat(), max=LATEST_DATE.isoformat())
        return attrs
