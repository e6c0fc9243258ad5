"""A base URL that answers, but not as the Kolega API: the key check says so about the address
and never blames the key. A real HTTP server on 127.0.0.1 stands for such a host."""

import pytest
from django.urls import reverse

from tests.factories import KolegaConnectionFactory
from tests.outbound_fixtures import respond
from triage.models import KolegaConnection, Role
from triage.services.connections import connection_verify
from triage.services.errors import ServiceError
from triage.services.kolega_errors import KEY_REJECTED, NOT_KOLEGA

pytestmark = pytest.mark.django_db

HTML = b"<!doctype html><html><head><title>Welcome</title></head><body>It works</body></html>"

NOT_KOLEGA_ANSWERS = [
    pytest.param(respond("404 Not Found", b"Not Found", {"Content-Type": "text/plain"}), id="404"),
    pytest.param(respond("200 OK", HTML, {"Content-Type": "text/html"}), id="html-200"),
    pytest.param(respond("401 Unauthorized", HTML, {"Content-Type": "text/html"}), id="html-401"),
    pytest.param(
        respond("401 Unauthorized", b'{"error": "login"}', {"Content-Type": "application/json"}),
        id="json-401-without-kolega-envelope",
    ),
    pytest.param(respond("200 OK", b"{}", {"Content-Type": "application/json"}), id="json-200"),
]


def _add(client, team, base_url):
    return client.post(
        reverse("settings-connections", kwargs={"team_slug": team.slug}),
        {"name": "Acme", "base_url": base_url, "api_key": "kcp_test_notkolega00000000000"},
    )


@pytest.mark.parametrize("answer", NOT_KOLEGA_ANSWERS)
def test_adding_a_connection_to_a_server_that_is_not_kolega_blames_the_address(
    answer, local_server, team, member, client_as
):
    server = local_server(answer)

    response = _add(client_as(member(Role.ADMIN)), team, server.url)

    body = response.content.decode()
    assert response.status_code == 400
    assert server.requests, "the key check reached the server"
    assert NOT_KOLEGA in body
    assert KEY_REJECTED not in body and "refused the key" not in body
    assert "Not Found" not in body and "It works" not in body  # never the server's own words
    assert not KolegaConnection.objects.exists()


@pytest.mark.parametrize("answer", NOT_KOLEGA_ANSWERS)
def test_checking_a_stored_key_against_a_server_that_is_not_kolega_keeps_the_key_valid(
    answer, local_server, team, member
):
    server = local_server(answer)
    stored = KolegaConnectionFactory(team=team, base_url=server.url)
    connection = KolegaConnection.objects.get(pk=stored.pk)  # the key as stored, encrypted

    with pytest.raises(ServiceError) as refused:
        connection_verify(connection=connection, actor=member(Role.ADMIN))

    assert refused.value.field == "base_url"
    assert refused.value.message.startswith(NOT_KOLEGA)
    connection.refresh_from_db()
    assert connection.state == KolegaConnection.State.ACTIVE
    assert connection.state_reason == ""
