from django.shortcuts import render


def csrf_failure(request, reason=""):
    """A missing or stale CSRF token: say so plainly instead of Django's debug page."""
    template = "errors/403_csrf_fragment.html" if request.headers.get("HX-Request") else None
    return render(
        request,
        template or "errors/403_csrf.html",
        {"reason": reason},
        status=403,
    )
