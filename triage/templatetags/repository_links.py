"""Every repository name a page shows links to that repository's page:
``{% load repository_links %}`` then ``{% repository_link finding.repository %}``."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

_PREFIX = "repository_link_prefix"


@register.simple_tag(takes_context=True)
def repository_link(context, repository) -> SafeString:
    """A link to ``repository``'s page in the current team, its name as the text; the name
    alone where there is no team (an email, a print) or no repository."""
    if repository is None:
        return format_html('<span class="muted">{}</span>', "—")
    team = context.get("current_team")
    if team is None:
        return format_html("<span>{}</span>", repository.name)
    # A table renders this once per row: the URL's prefix is worked out once per render.
    prefix = context.render_context.get(_PREFIX)
    if prefix is None:
        prefix = reverse("repositories", kwargs={"team_slug": team.slug})
        context.render_context[_PREFIX] = prefix
    return format_html(
        '<a href="{}{}/" data-repository-link>{}</a>', prefix, repository.pk, repository.name
    )
