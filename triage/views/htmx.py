"""How every view answers htmx: the page or one of its partials, polling, redirects, events.

One view serves a page and its fragments. The server picks the partial (never a request
parameter); the fragment is what an htmx request gets, except a history restore (the back
button after htmx's cache is gone) and a boosted request, which need the whole page. Every
response that can differ by ``HX-Request`` says so in ``Vary``, so a cache never hands a
fragment to a full page load.

After a change, a view names what changed with a domain event in ``HX-Trigger``; fragments
that show it listen with ``hx-trigger="findingsChanged from:body"`` and fetch themselves
again, so counts and badges never go stale.
"""

from enum import StrEnum
from functools import wraps

from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django_htmx.http import (
    HttpResponseClientRedirect,
    HttpResponseClientRefresh,
    HttpResponseStopPolling,
    trigger_client_event,
)


class Event(StrEnum):
    """Domain events sent to the browser after a change; fragments listen ``from:body``."""

    FINDINGS_CHANGED = "findingsChanged"
    APPROVALS_CHANGED = "approvalsChanged"


def is_htmx(request) -> bool:
    return bool(getattr(request, "htmx", False))


def is_fragment(request) -> bool:
    """Whether to answer a partial: an htmx request that is not a history restore or boost."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request and not htmx.boosted


def vary_on_htmx(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ["HX-Request"])
    return response


def render_page(
    request,
    template: str,
    context: dict,
    *,
    partial: str | None = None,
    status: int = 200,
    events: tuple[Event, ...] = (),
    stop_polling: bool = False,
) -> HttpResponse:
    """The whole page, or for htmx its ``partial`` (named after the DOM id it replaces).

    ``stop_polling``: the fragment answers 286 (the browser swaps this last state in and polls
    no more); a full page stays a 200.
    """
    if partial is not None and is_fragment(request):
        return render_fragment(
            request,
            template,
            partial,
            context,
            status=status,
            events=events,
            stop_polling=stop_polling,
        )
    response = vary_on_htmx(render(request, template, context, status=status))
    # A page loaded by the browser itself reads no headers: events are for htmx only.
    return send_events(response, *events) if is_htmx(request) else response


def render_fragment(
    request,
    template: str,
    partial: str,
    context: dict,
    *,
    status: int = 200,
    events: tuple[Event, ...] = (),
    stop_polling: bool = False,
) -> HttpResponse:
    """The partial ``partial`` of ``template``, for a view that only ever answers htmx.

    An htmx POST's fragment carries the request's messages as toasts swapped in out of band
    (a redirect would have shown them on the next page).
    """
    if stop_polling:
        status = HttpResponseStopPolling.status_code
    response = render(request, f"{template}#{partial}", context, status=status)
    if request.method == "POST":
        response.content += render_to_string(
            "components/toasts_oob.html", {"messages": get_messages(request)}, request=request
        ).encode()
    return send_events(vary_on_htmx(response), *events)


def stop_polling_and_refresh() -> HttpResponse:
    """The polled thing has finished in a way the whole page must show: reload it, poll no
    more."""
    response = HttpResponseStopPolling()
    response["HX-Refresh"] = "true"
    return vary_on_htmx(response)


def refresh_page() -> HttpResponse:
    return vary_on_htmx(HttpResponseClientRefresh())


def redirect_after_post(request, to: str, *args, **kwargs) -> HttpResponse:
    """After a write: a normal POST is redirected; an htmx POST makes the browser navigate
    (``HX-Redirect``), which shows the new page and its messages."""
    response = redirect(to, *args, **kwargs)
    if is_htmx(request):
        response = HttpResponseClientRedirect(response.url)
    return vary_on_htmx(response)


def no_content(*, events: tuple[Event, ...] = ()) -> HttpResponse:
    """An htmx write with nothing to swap (``hx-swap="none"``)."""
    return send_events(vary_on_htmx(HttpResponse(status=204)), *events)


def send_events(response: HttpResponse, *events: Event) -> HttpResponse:
    for event in events:
        trigger_client_event(response, str(event))
    return response


def fragment_only(page: str):
    """A fragment URL opened as a page (a bookmark, a new tab) leads to the page ``page``
    (a URL name taking the team and the fragment's own URL arguments). For a fragment of one
    object, look the object up first and call ``page_instead`` (another team's id is a 404)."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not is_htmx(request):
                return page_instead(request, page, **kwargs)
            return vary_on_htmx(view(request, *args, **kwargs))

        return wrapped

    return decorator


def page_instead(request, page: str, **kwargs) -> HttpResponse:
    """Redirect a non-htmx request for a fragment to its page, keeping the query string."""
    url = reverse(page, kwargs={"team_slug": request.team.slug, **kwargs})
    query = request.GET.urlencode()
    return vary_on_htmx(redirect(f"{url}?{query}" if query else url))
