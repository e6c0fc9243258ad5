"""A connection's base URL cannot make the portal reach into the network it runs in.

Refused at save time (the admin's form) and at every request (sync, PATCH, POST); errors say
one sentence per failure family. Host names resolve through a stub, and `loopback_only`
blocks any connection off loopback, so a broken guard still reaches nothing outside.
"""

import io
import json
import os
import secrets
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet
from django.urls import reverse

from tests.addresses import INTERNAL_URLS
from tests.factories import KolegaConnectionFactory
from tests.outbound_fixtures import PUBLIC_ADDRESS, REFUSED_ADDRESSES, ResolverStub, drip
from triage.clients import kolega_client_for, override_resolver, override_transport
from triage.kolega import KolegaAddressRefused
from triage.models import KolegaConnection, Role, SyncRun
from triage.services.kolega_errors import describe_kolega_error
from triage.sync import sync_connection_full

pytestmark = pytest.mark.django_db


@pytest.fixture
def network(settings, loopback_only):
    """Requests go over the (guarded) network, to any host name, loopback refused too."""
    settings.PORTAL_KOLEGA_ALLOWED_HOSTS = ["*"]
    settings.PORTAL_OUTBOUND_ALLOWED_NETWORKS = []
    with override_transport(None):
        yield loopback_only


@pytest.fixture
def admin_client(team, member, client_as):
    return client_as(member(Role.ADMIN, username="alice"))


def _add(client, team, base_url):
    return client.post(
        reverse("settings-connections", kwargs={"team_slug": team.slug}),
        {"name": "Acme", "base_url": base_url, "api_key": "kcp_test_whatever1234"},
    )


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_a_name_resolving_inside_is_refused_at_save_time(address, admin_client, team, network):
    with override_resolver(ResolverStub([address])):
        response = _add(admin_client, team, "http://kolega.test")

    body = response.content.decode()
    assert response.status_code == 400
    assert "Could not reach the address." in body
    assert address not in body
    assert not KolegaConnection.objects.exists()
    assert network.connects == []


@pytest.mark.parametrize(
    "base_url",
    [*INTERNAL_URLS, "http://0.0.0.0"],
)
def test_a_literal_internal_address_is_refused_by_the_form(base_url, admin_client, team, network):
    response = _add(admin_client, team, base_url)

    assert response.status_code == 400
    assert "private, internal or reserved" in response.content.decode()
    assert not KolegaConnection.objects.exists()
    assert network.connects == []


@pytest.mark.parametrize(
    ("base_url", "words"),
    [
        ("http://x/?", "must not contain a query"),
        ("http://10.0.0.5:9200/_cat/indices?", "must not contain a query"),
        ("http://169.254.169.254/latest/meta-data/?x=", "must not contain a query"),
        ("http://x/#", "must not contain a fragment"),
        ("http://x/#frag", "must not contain a fragment"),
        ("http://user:pw@x/", "must not contain a user name or password"),
    ],
)
def test_a_base_url_with_query_fragment_or_credentials_gets_a_form_error(
    base_url, words, admin_client, team, network
):
    response = _add(admin_client, team, base_url)

    assert response.status_code == 400
    assert words in response.content.decode()
    assert not KolegaConnection.objects.exists()
    assert network.connects == [] and network.lookups == []


def test_only_the_allowed_kolega_hosts_by_default(admin_client, team, settings, loopback_only):
    settings.PORTAL_KOLEGA_ALLOWED_HOSTS = ["api.kolega.dev"]

    response = _add(admin_client, team, "https://kolega.evil.example")

    assert response.status_code == 400
    assert "may connect only to these hosts: api.kolega.dev" in response.content.decode()
    assert loopback_only.connects == []


def test_plain_http_is_refused_unless_the_operator_allows_it(admin_client, team, settings):
    settings.PORTAL_OUTBOUND_ALLOW_HTTP = False

    response = _add(admin_client, team, "http://sandbox.test/sandbox")

    assert response.status_code == 400
    assert "must start with https://" in response.content.decode()


def test_the_management_command_is_refused_the_same_way(team, network, monkeypatch):
    from django.core.management import CommandError, call_command

    monkeypatch.setattr("sys.stdin", io.StringIO("kcp_test_whatever1234\n"))
    with (
        override_resolver(ResolverStub(["169.254.169.254"])),
        pytest.raises(CommandError, match="Could not reach the address"),
    ):
        call_command("team_connect", team.slug, "--base-url", "http://md.test", "--key-stdin")
    assert network.connects == []
    assert not KolegaConnection.objects.exists()


@pytest.fixture
def internal_connection(team):
    """A connection saved while its name still resolved outside (or before this guard)."""
    created = KolegaConnectionFactory(team=team, base_url="http://kolega.test")
    return KolegaConnection.objects.get(pk=created.pk)


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_a_sync_to_a_name_now_resolving_inside_is_refused(address, internal_connection, network):
    with override_resolver(ResolverStub([address])):
        run = sync_connection_full(connection=internal_connection)

    assert run.status == SyncRun.Status.FAILED and run.error_kind == "address_refused"
    assert run.error == "Could not reach the address."
    assert network.connects == []


def test_dns_rebinding_after_the_key_check_is_refused_for_writes(internal_connection, network):
    # Public when the key was checked, internal when a PATCH and a POST are sent.
    resolver = ResolverStub([PUBLIC_ADDRESS], ["10.0.0.5"])
    with override_resolver(resolver), kolega_client_for(internal_connection) as client:
        with pytest.raises(Exception):  # noqa: B017  (the test blocks the public address)
            client.me()
        with pytest.raises(KolegaAddressRefused) as patch_refused:
            client.update_finding_status(repository_id="r", finding_id="f", status="resolved")
        with pytest.raises(KolegaAddressRefused):
            client.cancel_fix(repository_id="r", fix_id="x")

    assert "10.0.0.5" not in network.connects
    assert "10.0.0.5" not in describe_kolega_error(patch_refused.value)


def test_sync_status_names_no_network_detail_to_viewers(
    team, member, client_as, internal_connection, network
):
    with override_resolver(ResolverStub(["10.0.0.5"])):
        sync_connection_full(connection=internal_connection)
    viewer = client_as(member(Role.VIEWER))

    page = viewer.get(reverse("settings-sync", kwargs={"team_slug": team.slug}))

    body = page.content.decode()
    assert page.status_code == 200 and "Could not reach the address." in body
    for words in ("10.0.0.5", "refused", "resolves", "private", "not found", "timed out"):
        assert words not in body.lower()


def test_a_tarpit_fails_the_sync_at_the_deadline(team, settings, local_server, network):
    settings.PORTAL_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.PORTAL_OUTBOUND_DEADLINE_SECONDS = 1
    server = local_server(drip(every=0.2))
    connection = KolegaConnection.objects.get(
        pk=KolegaConnectionFactory(team=team, base_url=server.url).pk
    )

    run = sync_connection_full(connection=connection)

    assert run.status == SyncRun.Status.FAILED and run.error_kind == "unavailable"
    assert (run.finished_at - run.started_at).total_seconds() < 3
    assert run.error.startswith("Could not reach the address.")


def _settings_in_a_fresh_process(**environment) -> dict:
    """The outbound settings `portal.settings` derives from `environment` alone."""
    script = (
        "import json; from portal import settings as s; print(json.dumps({n: getattr(s, n) for n"
        " in ('PORTAL_OUTBOUND_ALLOW_HTTP', 'PORTAL_OUTBOUND_ALLOWED_NETWORKS',"
        " 'PORTAL_KOLEGA_ALLOWED_HOSTS')}))"
    )
    keep = {"PATH", "HOME", "LANG"}
    env = {name: value for name, value in os.environ.items() if name in keep}
    env.update(environment)
    output = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(output.stdout)


def test_make_run_can_reach_its_sandbox_and_production_cannot(settings):
    from triage.clients import kolega_outbound_policy

    development = _settings_in_a_fresh_process(DEBUG="1", SANDBOX_ENABLED="1")
    production = _settings_in_a_fresh_process(
        SECRET_KEY=secrets.token_hex(40), PORTAL_ENCRYPTION_KEYS=Fernet.generate_key().decode()
    )
    sandbox_url = "http://127.0.0.1:8000/sandbox"  # what bin/run-dev connects the demo team to

    for name, value in development.items():
        setattr(settings, name, value)
    policy = kolega_outbound_policy()
    policy.check_base_url(sandbox_url)
    assert policy.addresses_for("127.0.0.1", 8000) == ["127.0.0.1"]

    assert production == {
        "PORTAL_OUTBOUND_ALLOW_HTTP": False,
        "PORTAL_OUTBOUND_ALLOWED_NETWORKS": [],
        "PORTAL_KOLEGA_ALLOWED_HOSTS": ["api.kolega.dev"],
    }
    for name, value in production.items():
        setattr(settings, name, value)
    with pytest.raises(Exception, match="https"):
        kolega_outbound_policy().check_base_url(sandbox_url)
