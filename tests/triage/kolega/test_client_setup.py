import httpx
import pytest

from triage.kolega import KolegaClient


@pytest.mark.parametrize("api_key", ["", "   "])
def test_a_key_is_required(api_key):
    with pytest.raises(ValueError, match="api_key"):
        KolegaClient(base_url="https://kolega.example", api_key=api_key)


def test_the_base_url_must_be_http():
    with pytest.raises(ValueError, match="http"):
        KolegaClient(base_url="ftp://kolega.example", api_key="kcp_test_x")


def test_the_key_never_shows_in_the_clients_repr():
    key = "kcp_live_verysecretvalue123456"
    with KolegaClient(base_url="https://kolega.example/", api_key=key) as client:
        assert key not in repr(client)
        assert client.base_url == "https://kolega.example/api/v1/"


def test_timeouts_are_explicit_by_default_and_can_be_a_number():
    with KolegaClient(base_url="https://kolega.example", api_key="kcp_test_x") as client:
        assert client._http.timeout.connect == 5.0
        assert client._http.timeout.read == 20.0
    with KolegaClient(base_url="https://kolega.example", api_key="kcp_test_x", timeout=3) as c:
        assert c._http.timeout == httpx.Timeout(3.0)


@pytest.mark.django_db
def test_a_trailing_slash_on_the_base_url_changes_nothing(
    make_kolega, sandbox_org, sandbox_transport
):
    client = make_kolega(
        api_key=sandbox_org[1],
        transport=sandbox_transport,
        base_url="http://sandbox.test/sandbox/",
    )
    assert client.me().organization_slug == "client-test"
    assert str(sandbox_transport.requests[0].url) == "http://sandbox.test/sandbox/api/v1/me"
