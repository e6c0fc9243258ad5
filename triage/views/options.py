"""Select options built in Python: a team may have hundreds of repositories, and a template
loop over them dominates the cost of a page that offers them as a filter."""

from collections.abc import Iterable

from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe

SELECTED = mark_safe(" selected")


def select_options(choices: Iterable[tuple[object, str]], selected=None) -> SafeString:
    """`<option>` elements for (value, label) pairs, `selected` marked; values and labels
    are escaped."""
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        ((value, SELECTED if value == selected else "", label) for value, label in choices),
    )
