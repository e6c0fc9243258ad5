"""Showing text that came from Kolega: links only to web URLs, hidden characters made visible."""

from __future__ import annotations

from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from triage.diffs import visible_html
from triage.models.comments import body_parts
from triage.weblinks import web_url

register = template.Library()


@register.simple_tag
def web_link(url, *label_parts, new_tab: bool = False) -> SafeString:
    """A link to ``url`` when it is an http(s) URL; otherwise its label as text. The label is
    ``label_parts`` joined (``{% web_link pr.pr_url pr.repo_full_name "#" pr.pr_number %}``),
    or the URL itself."""
    text = "".join(str(part) for part in label_parts) or ("" if url is None else str(url))
    href = web_url(url)
    if href is None:
        return format_html("<span>{}</span>", text)
    if new_tab:
        return format_html(
            '<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>', href, text
        )
    return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', href, text)


@register.filter
def visible_characters(value) -> SafeString:
    """The text escaped, with control, bidirectional and zero-width characters shown."""
    return visible_html("" if value is None else str(value))


@register.filter
def comment_body(comment) -> SafeString:
    """A comment's text escaped, line breaks kept, and each mention of a team member it
    mentions (``comment.mentioned_names``) marked; any other "@name" stays text."""
    html = []
    for text, is_mention in body_parts(comment.body, getattr(comment, "mentioned_names", set())):
        if is_mention:
            html.append(format_html('<strong class="mention">{}</strong>', text))
        else:
            html.append(escape(text.replace("\r\n", "\n")).replace("\n", "<br>"))
    # Every part above is escaped text or format_html's output.
    return mark_safe("".join(html))  # noqa: S308
