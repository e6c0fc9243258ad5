"""The client under the outbound guard: refused addresses, a deadline per call, a byte cap per
answer, and a page cap that does not trust the server's `total`."""

import pytest

from tests.outbound_fixtures import (
    ResolverStub,
    drip,
    elapsed,
)
from tests.triage.kolega.test_pagination import ListMethod, counter
from triage.kolega import (
    MAX_PAGES,
    KolegaAddressRefused,
    KolegaClient,
    KolegaTooLarge,
    KolegaUnavailable,
    iter_all,
    iter_pages,
)
from triage.outbound import LOOPBACK_NETWORKS, OutboundPolicy

LOCAL = OutboundPolicy(allow_http=True, allowed_networks=LOOPBACK_NETWORKS)


def test_over_the_network_the_client_is_strict_by_default(loopback_only):
    for base_url in ("http://127.0.0.1:9", "https://127.0.0.1:9"):
        with (
            KolegaClient(base_url=base_url, api_key="kcp_test_x") as client,
            pytest.raises(KolegaAddressRefused),
        ):
            client.me()

    assert client.request_count == 0 and loopback_only.connects == []


@pytest.mark.parametrize("base_url", ["http://sandbox.test/sandbox?", "http://sandbox.test/#x"])
def test_a_query_or_fragment_never_swallows_the_api_path(
    base_url, make_kolega, sandbox_org, sandbox_transport
):
    client = make_kolega(api_key=sandbox_org[1], transport=sandbox_transport, base_url=base_url)

    with pytest.raises(KolegaAddressRefused):
        client.me()

    assert sandbox_transport.requests == []


def test_a_name_resolving_inside_is_refused_at_every_request(loopback_only):
    policy = OutboundPolicy(allow_http=True, resolver=ResolverStub(["169.254.169.254"]))

    with KolegaClient(
        base_url="http://kolega.test", api_key="kcp_test_x", outbound_policy=policy
    ) as client:
        for call in (
            client.me,
            lambda: client.update_finding_status(
                repository_id="r", finding_id="f", status="resolved"
            ),
            lambda: client.cancel_fix(repository_id="r", fix_id="x"),
        ):
            with pytest.raises(KolegaAddressRefused) as refused:
                call()
            assert refused.value.message == "Could not reach the address."
            assert "169.254.169.254" in refused.value.detail

    assert loopback_only.connects == []


def test_a_tarpit_fails_the_call_at_its_deadline_retries_included(local_server, sleeps):
    server = local_server(drip(every=0.2))
    policy = OutboundPolicy(
        allow_http=True, allowed_networks=LOOPBACK_NETWORKS, deadline_seconds=1.0
    )

    with KolegaClient(
        base_url=server.url, api_key="kcp_test_x", outbound_policy=policy, timeout=5.0
    ) as client:
        took, raised = elapsed(client.me)

    assert isinstance(raised, KolegaUnavailable)
    assert "deadline" in raised.reason
    assert 0.9 <= took < 2.0
    assert len(server.requests) == 1  # no retry once the call's time is spent


def test_an_answer_past_the_byte_cap_is_refused(make_kolega, sandbox_org, sandbox_transport):
    from sandbox.services.repositories import repository_create

    for n in range(5):
        repository_create(
            organization=sandbox_org[0], name=f"repo-{n}", description="x" * 400, source_trees={}
        )
    client = make_kolega(
        api_key=sandbox_org[1],
        transport=sandbox_transport,
        outbound_policy=OutboundPolicy(allow_http=True, max_response_bytes=1500),
    )

    assert client.me().organization_slug == "client-test"  # a small answer passes
    with pytest.raises(KolegaTooLarge, match="1500 bytes"):
        client.list_repositories()


def test_a_server_announcing_endless_pages_is_stopped_by_the_page_cap():
    list_method = ListMethod([counter(n) for n in range(50)], always_has_next=True, total=10**9)

    with pytest.raises(KolegaTooLarge, match="more than 7 pages"):
        list(iter_pages(list_method, page_size=1, max_pages=7))

    assert len(list_method.calls) == 7


def test_the_page_cap_holds_by_default_whatever_total_says():
    list_method = ListMethod(
        [counter(n) for n in range(MAX_PAGES + 5)], always_has_next=True, total=10**9
    )

    with pytest.raises(KolegaTooLarge):
        for _ in iter_all(list_method, page_size=1):
            pass

    assert len(list_method.calls) == MAX_PAGES
