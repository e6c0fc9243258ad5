"""The one flow of settings pages whose forms post a named `action` (Ownership, Notifications).

The view builds its forms (the one the action names bound to the POST) and a function that
does the action and answers what to tell the user, or "" when its form shows errors. A
`ServiceError` naming a field of the action's form is shown on that field; any other is a
message on the page, as is success, after a redirect.
"""

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpResponse

from triage.services.errors import ServiceError
from triage.views.htmx import redirect_after_post, render_page


def settings_post(
    request,
    *,
    action: str | None,
    forms: dict,
    form_of_action: dict[str, str],
    run: Callable[..., str],
    page: str,
    passes: tuple[type[ServiceError], ...] = (),
) -> HttpResponse | None:
    """Do the posted action; answer the redirect to `page`, or None when a form shows its
    errors. Errors of the `passes` types are raised for the view to show its own way."""
    try:
        done = run(request, action, forms)
    except ServiceError as exc:
        if isinstance(exc, passes):
            raise
        form = form_of_action.get(action or "", "")
        if form and exc.field in forms[form].fields:
            forms[form].add_error(exc.field, exc.message)
            return None
        messages.error(request, exc.message)
        return redirect_after_post(request, page, team_slug=request.team.slug)
    if not done:
        return None
    messages.success(request, done)
    return redirect_after_post(request, page, team_slug=request.team.slug)


def settings_render(request, template: str, forms: dict, context: dict) -> HttpResponse:
    """The page with its forms; 400 when one of them shows errors."""
    invalid = any(form.errors for form in forms.values())
    return render_page(request, template, {**forms, **context}, status=400 if invalid else 200)
