"""The outbound guard on its own: URLs, addresses, pinning, redirects, deadline and byte cap.

Every test runs under `loopback_only`: a connection off loopback fails before a packet leaves
and a name given to the system's resolver fails, so a broken guard still reaches nothing.
"""

import httpx
import pytest

from tests.addresses import INTERNAL_URLS
from tests.outbound_fixtures import (
    PUBLIC_ADDRESS,
    REFUSED_ADDRESSES,
    ResolverStub,
    drip,
    elapsed,
    respond,
)
from triage.outbound import (
    LOOPBACK_NETWORKS,
    OutboundPolicy,
    OutboundRefused,
    OutboundResponseTooLarge,
    exchange,
    guarded_client,
    parse_networks,
)

pytestmark = pytest.mark.usefixtures("loopback_only")


def _policy(resolver, **kwargs) -> OutboundPolicy:
    return OutboundPolicy(allow_http=True, resolver=resolver, **kwargs)


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_a_name_resolving_to_a_refused_address_is_never_connected_to(address, loopback_only):
    resolver = ResolverStub([address])

    with guarded_client(_policy(resolver)) as client, pytest.raises(OutboundRefused) as refused:
        client.get("http://kolega.test:8080/api/v1/me")

    assert resolver.calls == [("kolega.test", 8080)]
    assert loopback_only.connects == [] and loopback_only.lookups == []
    # Safe to show: it names neither the address nor why.
    assert refused.value.message == "Could not reach the address."
    assert address.split("%")[0] in refused.value.detail


def test_a_name_with_one_public_and_one_private_address_is_refused(loopback_only):
    resolver = ResolverStub([PUBLIC_ADDRESS, "10.0.0.5"])

    with guarded_client(_policy(resolver)) as client, pytest.raises(OutboundRefused):
        client.get("http://kolega.test/")

    assert loopback_only.connects == []


@pytest.mark.parametrize(
    "url",
    [*INTERNAL_URLS, "http://0.0.0.0:8000", "http://127.0.0.1:8000", "http://[::1]:8000"],
)
def test_a_literal_refused_address_is_refused_before_any_lookup(url, loopback_only):
    policy = _policy(ResolverStub([PUBLIC_ADDRESS]))

    with pytest.raises(OutboundRefused) as refused:
        policy.check_base_url(url)
    with guarded_client(policy) as client, pytest.raises(OutboundRefused):
        client.get(url + "/api/v1/me")

    assert "private, internal or reserved" in refused.value.message
    assert loopback_only.connects == []


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://169.254.169.254/latest/meta-data/?x=", "query"),
        ("http://10.0.0.5:9200/_cat/indices?", "query"),
        ("https://api.kolega.dev/?", "query"),
        ("https://api.kolega.dev/#", "fragment"),
        ("https://api.kolega.dev#x", "fragment"),
        ("https://user:secret@api.kolega.dev", "user name or password"),
        ("https://api.kolega.dev@10.0.0.5", "user name or password"),
        ("ftp://api.kolega.dev", "https://"),
        ("https://api.kolega.dev:99999", "port"),
    ],
)
def test_a_base_url_with_a_query_fragment_or_credentials_is_refused(url, words):
    with pytest.raises(OutboundRefused) as refused:
        OutboundPolicy(allow_http=True).check_base_url(url)

    assert words in refused.value.message


def test_plain_http_only_when_the_policy_allows_it():
    with pytest.raises(OutboundRefused, match="https://"):
        OutboundPolicy().check_base_url("http://api.kolega.dev")
    OutboundPolicy().check_base_url("https://api.kolega.dev")
    OutboundPolicy(allow_http=True).check_base_url("http://api.kolega.dev")


def test_the_allow_list_of_hosts_is_enforced_on_every_request(loopback_only):
    policy = OutboundPolicy(allowed_hosts=("api.kolega.dev", ".kolega.example"))

    policy.check_base_url("https://api.kolega.dev")
    policy.check_base_url("https://eu.kolega.example")
    with pytest.raises(OutboundRefused, match=r"api\.kolega\.dev"):
        policy.check_base_url("https://api.kolega.dev.evil.example")
    with guarded_client(policy) as client, pytest.raises(OutboundRefused):
        client.get("https://evil.example/")
    assert loopback_only.connects == []


def test_the_connection_is_pinned_to_the_checked_address_and_keeps_the_name(
    local_server, loopback_only
):
    server = local_server(respond("200 OK", b'{"ok": true}'))
    # The second answer would rebind the name to an internal host.
    resolver = ResolverStub(["127.0.0.1"], ["10.0.0.5"])
    policy = _policy(resolver, allowed_networks=LOOPBACK_NETWORKS)

    with guarded_client(policy) as client:
        response = exchange(
            client,
            client.build_request("GET", f"http://kolega.test:{server.port}/x"),
            policy=policy,
        )

    assert response.json() == {"ok": True}
    # Resolved once, connected to exactly that answer, and the name kept in the Host header.
    assert resolver.calls == [("kolega.test", server.port)]
    assert loopback_only.connects == ["127.0.0.1"] and loopback_only.lookups == []
    assert f"host: kolega.test:{server.port}".encode() in server.requests[0].lower()


def test_dns_rebinding_after_the_first_connection_is_refused(local_server, loopback_only):
    server = local_server(respond("200 OK", b"{}"))
    resolver = ResolverStub(["127.0.0.1"], ["10.0.0.5"])
    policy = _policy(resolver, allowed_networks=LOOPBACK_NETWORKS)
    url = f"http://kolega.test:{server.port}/"

    with guarded_client(policy) as client:
        assert client.get(url).status_code == 200  # the server closes: the next call reconnects
        with pytest.raises(OutboundRefused):
            client.get(url)

    assert loopback_only.connects == ["127.0.0.1"]


def test_a_public_first_answer_and_a_private_second_never_reach_the_private_one(loopback_only):
    resolver = ResolverStub([PUBLIC_ADDRESS], ["10.0.0.5"])

    with guarded_client(_policy(resolver)) as client:
        with pytest.raises(httpx.ConnectError):  # the test blocks the public address
            client.get("http://kolega.test/")
        with pytest.raises(OutboundRefused):
            client.get("http://kolega.test/")

    # Connected only to what was checked; the rebound answer was refused, not connected to.
    assert loopback_only.connects == [PUBLIC_ADDRESS]
    assert loopback_only.lookups == []


def test_an_operator_may_allow_a_range(loopback_only):
    resolver = ResolverStub(["10.20.0.7"])
    policy = _policy(resolver, allowed_networks=parse_networks(["10.20.0.0/16"]))

    with guarded_client(policy) as client, pytest.raises(httpx.ConnectError):
        client.get("http://kolega.internal/")

    assert loopback_only.connects == ["10.20.0.7"]  # allowed, pinned (and blocked by the test)


def test_redirects_are_not_followed_and_a_followed_one_is_checked_again(
    local_server, loopback_only
):
    server = local_server(
        respond("302 Found", b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
    )
    policy = _policy(ResolverStub(["127.0.0.1"]), allowed_networks=LOOPBACK_NETWORKS)

    with guarded_client(policy) as client:
        assert client.get(f"{server.url}/").status_code == 302
        with pytest.raises(OutboundRefused):
            client.get(f"{server.url}/", follow_redirects=True)

    assert set(loopback_only.connects) == {"127.0.0.1"}


def test_a_server_dripping_bytes_fails_at_the_deadline(local_server):
    server = local_server(drip(every=0.2))
    policy = _policy(
        ResolverStub(["127.0.0.1"]), allowed_networks=LOOPBACK_NETWORKS, deadline_seconds=1.0
    )

    with guarded_client(policy, timeout=5.0) as client:
        took, raised = elapsed(
            lambda: exchange(client, client.build_request("GET", f"{server.url}/"), policy=policy)
        )

    assert isinstance(raised, httpx.TimeoutException)
    assert 0.9 <= took < 2.0  # at the deadline: every read got a byte well within its timeout


def test_a_body_past_the_byte_cap_is_not_read(local_server):
    body = b"[" + b"0," * 600_000 + b"0]"
    server = local_server(respond("200 OK", body))
    policy = _policy(
        ResolverStub(["127.0.0.1"]), allowed_networks=LOOPBACK_NETWORKS, max_response_bytes=65536
    )

    with guarded_client(policy) as client, pytest.raises(OutboundResponseTooLarge):
        exchange(client, client.build_request("GET", f"{server.url}/"), policy=policy)


def test_a_body_without_length_past_the_byte_cap_is_not_read(local_server):
    def endless(connection, stop):
        connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while not stop.is_set():
            connection.sendall(b"10000\r\n" + b"x" * 0x10000 + b"\r\n")

    server = local_server(endless)
    policy = _policy(
        ResolverStub(["127.0.0.1"]), allowed_networks=LOOPBACK_NETWORKS, max_response_bytes=1 << 20
    )

    with guarded_client(policy) as client, pytest.raises(OutboundResponseTooLarge):
        exchange(client, client.build_request("GET", f"{server.url}/"), policy=policy)
