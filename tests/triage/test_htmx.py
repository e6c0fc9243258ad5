"""The one way views answer htmx (triage/views/htmx.py): page or partial, history restores and
boosts, Vary, 286, client redirects and refreshes, domain events, fragment-only URLs."""

import json

import pytest
from django.contrib.messages import success
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from django_htmx.middleware import HtmxMiddleware

from triage.views import htmx

pytestmark = pytest.mark.django_db

TEMPLATE = "triage/settings/sync_run.html"  # a page with one partial, ``sync-run``


class Run:
    pk = 7
    is_active = True
    status = "running"


def _request(method="get", *, htmx_headers=None, team_slug="acme"):
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (htmx_headers or {}).items()}
    request = getattr(RequestFactory(), method)("/t/acme/somewhere/?a=1", **headers)
    for middleware in (SessionMiddleware, MessageMiddleware, HtmxMiddleware):
        middleware(lambda r: HttpResponse())(request)
    request.team = type("Team", (), {"slug": team_slug})()
    return request


def _context():
    return {"run": Run(), "current_team": _request().team}


HTMX = {"HX-Request": "true"}


def test_a_plain_request_gets_the_page():
    response = htmx.render_page(_request(), TEMPLATE, _context(), partial="sync-run")

    assert b"<html" in response.content
    assert "HX-Request" in response["Vary"]


def test_an_htmx_request_gets_the_partial_and_vary_says_so():
    response = htmx.render_page(
        _request(htmx_headers=HTMX), TEMPLATE, _context(), partial="sync-run"
    )

    assert b"<html" not in response.content
    assert b'id="sync-run"' in response.content
    assert response.status_code == 200
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize(
    "headers",
    [
        {"HX-Request": "true", "HX-History-Restore-Request": "true"},
        {"HX-Request": "true", "HX-Boosted": "true"},
    ],
    ids=["history-restore", "boosted"],
)
def test_a_history_restore_or_a_boost_gets_the_whole_page(headers):
    request = _request(htmx_headers=headers)

    response = htmx.render_page(request, TEMPLATE, _context(), partial="sync-run")

    assert not htmx.is_fragment(request)
    assert b"<html" in response.content


def test_stop_polling_is_286_for_the_fragment_and_200_for_the_page():
    fragment = htmx.render_page(
        _request(htmx_headers=HTMX), TEMPLATE, _context(), partial="sync-run", stop_polling=True
    )
    page = htmx.render_page(_request(), TEMPLATE, _context(), partial="sync-run", stop_polling=True)

    assert fragment.status_code == 286
    assert b'id="sync-run"' in fragment.content  # the last state still arrives
    assert page.status_code == 200


def test_events_go_in_hx_trigger_together():
    response = htmx.render_page(
        _request(htmx_headers=HTMX),
        TEMPLATE,
        _context(),
        partial="sync-run",
        events=(htmx.Event.FINDINGS_CHANGED, htmx.Event.APPROVALS_CHANGED),
    )

    assert set(json.loads(response["HX-Trigger"])) == {"findingsChanged", "approvalsChanged"}


def test_an_htmx_post_fragment_carries_the_messages_as_out_of_band_toasts():
    request = _request("post", htmx_headers=HTMX)
    success(request, "Approved.")

    response = htmx.render_fragment(request, TEMPLATE, "sync-run", _context())

    body = response.content.decode()
    assert 'hx-swap-oob="beforeend:#toasts"' in body and "Approved." in body


def test_a_polled_fragment_leaves_the_messages_for_the_next_page():
    request = _request(htmx_headers=HTMX)
    success(request, "Saved.")

    response = htmx.render_fragment(request, TEMPLATE, "sync-run", _context())

    assert b"hx-swap-oob" not in response.content
    assert [str(m) for m in request._messages] == ["Saved."]


def test_redirect_after_post_navigates_htmx_with_hx_redirect():
    plain = htmx.redirect_after_post(_request("post"), "/t/acme/next/")
    client_side = htmx.redirect_after_post(_request("post", htmx_headers=HTMX), "/t/acme/next/")

    assert plain.status_code == 302 and plain["Location"] == "/t/acme/next/"
    assert client_side.status_code == 200 and client_side["HX-Redirect"] == "/t/acme/next/"
    assert "Location" not in client_side
    assert "HX-Request" in plain["Vary"] and "HX-Request" in client_side["Vary"]


def test_stop_polling_and_refresh_reloads_the_page_once():
    response = htmx.stop_polling_and_refresh()

    assert response.status_code == 286 and response["HX-Refresh"] == "true"


def test_refresh_page_and_no_content():
    assert htmx.refresh_page()["HX-Refresh"] == "true"
    empty = htmx.no_content(events=(htmx.Event.FINDINGS_CHANGED,))
    assert empty.status_code == 204
    assert json.loads(empty["HX-Trigger"]) == {"findingsChanged": {}}


def test_a_fragment_url_opened_as_a_page_leads_to_its_page():
    @htmx.fragment_only("settings-sync-run")
    def fragment(request, run_id):
        return HttpResponse("the fragment")

    page = fragment(_request(), run_id=3)
    answered = fragment(_request(htmx_headers=HTMX), run_id=3)

    assert page.status_code == 302
    run_page = reverse("settings-sync-run", kwargs={"team_slug": "acme", "run_id": 3})
    assert page["Location"] == f"{run_page}?a=1"
    assert answered.content == b"the fragment"
    assert "HX-Request" in page["Vary"] and "HX-Request" in answered["Vary"]


def test_a_confirmed_removal_is_an_htmx_post_answered_with_a_client_redirect(team, member):
    from django.test import Client

    from triage.models import Membership, Role

    admin = member(Role.ADMIN)
    leaving = member(Role.VIEWER, username="leaving")
    client = Client()
    client.force_login(admin)
    url = reverse("settings-members", kwargs={"team_slug": team.slug})

    page = client.get(url).content.decode()
    response = client.post(
        url,
        {"action": "remove", "membership": Membership.objects.get(user=leaving).pk},
        HTTP_HX_REQUEST="true",
    )

    assert 'hx-confirm="Remove leaving from the team?"' in page and "data-confirm" not in page
    assert response.status_code == 200 and response["HX-Redirect"] == url
    assert not Membership.objects.filter(user=leaving).exists()
