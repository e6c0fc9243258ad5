from django.shortcuts import render

from triage.views.htmx import is_fragment, vary_on_htmx


def csrf_failure(request, reason=""):
    """A missing or stale CSRF token: say so plainly instead of Django's debug page."""
    template = "errors/403_csrf_fragment.html" if is_fragment(request) else "errors/403_csrf.html"
    return vary_on_htmx(render(request, template, {"reason": reason}, status=403))
