"""Select options built in Python: a team may have hundreds of repositories, and a template
loop over them dominates the cost of a page that offers them as a filter."""

import html
from collections.abc import Iterable

from django.utils.safestring import SafeString, mark_safe

SELECTED = mark_safe(" selected")


def escaped(value) -> str:
    """``value`` as ``format_html`` would put it in: safe strings as they are, anything else
    escaped. Without django.utils.html.escape's lazy-string wrapper, which costs more than
    the escaping itself at a thousand values a page (markup built in Python uses this)."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def select_options(choices: Iterable[tuple[object, str]], selected=None) -> SafeString:
    """`<option>` elements for (value, label) pairs, `selected` marked; values and labels
    are escaped. Joined by hand rather than with ``format_html`` per option, which costs
    several times more with a team's few hundred repositories on every list page."""
    return mark_safe(  # noqa: S308 (every value and label is escaped above)
        "".join(
            f'<option value="{escaped(value)}"{" selected" if value == selected else ""}>'
            f"{escaped(label)}</option>"
            for value, label in choices
        )
    )
