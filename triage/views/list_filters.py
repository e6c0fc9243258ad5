"""How a list page answers: FilterSet → one page of rows → the whole page or its table
partial, and what it says about filters it could not apply.

A FilterSet filters by the fields its form cleaned and leaves out the others, so an unknown
value (``?status=nope``) lists as if that filter were not there. The page must say so, in the
words of the form: ``Ignored the filter Status: “nope” is not one of the choices.``
"""

from collections.abc import Callable

from django import forms
from django.core.paginator import Paginator
from django.forms.utils import pretty_name
from django.http import HttpResponse
from django_filters import FilterSet

from triage.views.htmx import render_page

# Errors whose reason reads as a sentence after the value the person gave.
REASONS = {
    "invalid_choice": "is not one of the choices.",
    "invalid_pk_value": "is not one of the choices.",
    "invalid_list": "is not one of the choices.",
    "invalid_date": "is not a date.",
    "max_value": "is more than the largest value allowed ({limit_value}).",
    "min_value": "is less than the smallest value allowed ({limit_value}).",
    "max_length": "is longer than {limit_value} characters.",
    "out_of_range": "is outside the dates the portal reads (1 Jan 1900 to 31 Dec 2999).",
}
# The reason of a plain "invalid" depends on what the field reads.
INVALID_REASONS = (
    (forms.DateTimeField, "is not a date and time."),
    (forms.DateField, "is not a date."),
    (forms.IntegerField, "is not a whole number."),
    (forms.DecimalField, "is not a number."),
    (forms.FloatField, "is not a number."),
)
# Longer values are cut short in the message; a URL can carry anything.
SHOWN_VALUE_LENGTH = 60


def _label(form: forms.Form, name: str) -> str:
    field = form.fields.get(name)
    return str(field.label) if field is not None and field.label else pretty_name(name)


def _given(form: forms.Form, name: str, error) -> str:
    params = error.params or {}
    for key in ("value", "pk"):
        if key in params:
            return str(params[key])
    field = form.fields[name]
    value = field.widget.value_from_datadict(form.data, form.files, form.add_prefix(name))
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value if v not in (None, ""))
    return "" if value is None else str(value)


def _reason(field: forms.Field, error) -> str:
    template = REASONS.get(error.code or "")
    if template is None and error.code == "invalid":
        template = next((text for kind, text in INVALID_REASONS if isinstance(field, kind)), None)
    if template is None:
        return " ".join(str(message) for message in error.messages)
    return template.format(**(error.params or {}))


def shown(value: str) -> str:
    """A value from the URL quoted for a sentence, cut short when long."""
    if len(value) > SHOWN_VALUE_LENGTH:
        value = value[: SHOWN_VALUE_LENGTH - 1] + "…"
    return f"“{value}”"


def ignored_choice(name: str, value: str | None, allowed: tuple[str, ...]) -> list[str]:
    """The sentence for a URL parameter outside a FilterSet (such as the findings page's
    grouping) whose value is not one of ``allowed``; nothing when it is absent or allowed."""
    if not value or value in allowed:
        return []
    choices = ", ".join(f"“{choice}”" for choice in allowed)
    return [f"Ignored the {name} {shown(value)}: it can be {choices} only."]


def ignored_parameters(params, known) -> list[str]:
    """One sentence per parameter of the URL the page does not know (a misspelt filter, a
    link from elsewhere): it changed nothing, and the person should know."""
    return [
        f"Ignored the parameter {shown(name)}: this page has no such filter."
        for name in params
        if name not in known
    ]


def ignored_filters(filterset: FilterSet) -> list[str]:
    """One sentence per filter the FilterSet left out of its query, naming the filter by its
    label and saying why; nothing for an unbound or valid FilterSet."""
    if not filterset.is_bound or filterset.is_valid():
        return []
    form = filterset.form
    sentences = []
    for name, errors in form.errors.as_data().items():
        if name not in form.fields:
            sentences.extend(
                f"Ignored the filters: {' '.join(str(m) for m in error.messages)}"
                for error in errors
            )
            continue
        # One sentence per filter: its first reason is enough to correct it.
        error = errors[0]
        label = _label(form, name)
        reason = _reason(form.fields[name], error)
        given = _given(form, name, error)
        if given:
            sentences.append(f"Ignored the filter {label}: {shown(given)} {reason}")
        else:
            sentences.append(f"Ignored the filter {label}: {reason}")
    return sentences


def is_filtered(filterset: FilterSet) -> bool:
    """Whether a filter the FilterSet applied narrows the list (an empty one does not)."""
    if not filterset.is_bound:
        return False
    filterset.is_valid()
    return any(value not in (None, "") for value in filterset.form.cleaned_data.values())


def list_context(request, filterset: FilterSet, *, per_page: int, rows=None) -> dict:
    """What every list page shows: the filter form, the filters it ignored, one page of the
    rows (``rows``, or the FilterSet's own), and the query the pager's links keep."""
    rows = filterset.qs if rows is None else rows
    page = Paginator(rows, per_page).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "filter": filterset,
        "ignored_filters": ignored_filters(filterset),
        "is_filtered": is_filtered(filterset),
        "page": page,
        "query": query.urlencode(),
    }


def list_page(
    request,
    filterset: FilterSet,
    template: str,
    *,
    per_page: int,
    rows=None,
    decorate: Callable[[list], None] | None = None,
    context: dict | None = None,
) -> HttpResponse:
    """A list page from its FilterSet: the whole page, or for htmx its table partial.

    ``template`` names the page and its table partial (``"triage/fixes/list.html#fixes-table"``).
    ``decorate`` adds display values to the rows of the page once they are known, so a page of
    fifty is read, not the whole list; ``context`` is what the page shows beside its table.
    """
    page_template, partial = template.split("#")
    shared = list_context(request, filterset, per_page=per_page, rows=rows)
    if decorate is not None:
        decorate(shared["page"].object_list)
    return render_page(request, page_template, {**shared, **(context or {})}, partial=partial)
