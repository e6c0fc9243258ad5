"""Asking for the portal's pages in tests: a team's URLs, and the header of an htmx request."""

from django.urls import reverse

# What htmx adds to every request it sends, as extra arguments of the test client.
HTMX = {"HTTP_HX_REQUEST": "true"}


def team_url(name: str, team, **kwargs) -> str:
    """The URL of the page ``name`` of ``team``, with the other URL arguments."""
    return reverse(name, kwargs={"team_slug": team.slug, **kwargs})
