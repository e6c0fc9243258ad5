"""Sign-in behind a reverse proxy, the per-account slowdown and the password policy."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from tests.factories import TEST_PASSWORD, UserFactory
from triage import sign_in

PROXY = "10.0.0.2"


@pytest.fixture(autouse=True)
def _fresh_counters():
    # The counters live in the cache, which outlives a test's database (and, on Redis, the
    # run); cache.clear() would also empty the Celery broker sharing that Redis database.
    keys = [sign_in._key(name) for name in ("alice", "nobody-by-this-name", "plain-user")]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


def _post(username, password, *, remote=PROXY, forwarded=None):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return Client().post(reverse("login"), {"username": username, "password": password}, **headers)


def test_behind_a_proxy_an_attacker_does_not_lock_the_victim_out(db, settings):
    settings.PORTAL_TRUSTED_PROXY_HOPS = 1
    UserFactory(username="alice")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _post("alice", "wrong", forwarded="203.0.113.5")

    assert _post("alice", TEST_PASSWORD, forwarded="203.0.113.5").status_code == 429
    # Alice behind the same proxy, from her own address, still signs in.
    assert _post("alice", TEST_PASSWORD, forwarded="198.51.100.7").status_code == 302


def test_a_client_cannot_forge_its_address_past_the_trusted_proxy(db, settings):
    settings.PORTAL_TRUSTED_PROXY_HOPS = 1
    UserFactory(username="alice")
    for n in range(settings.AXES_FAILURE_LIMIT):
        # The client writes a new address each time; the proxy appends the real one.
        _post("alice", "wrong", forwarded=f"192.0.2.{n}, 203.0.113.5")

    assert _post("alice", TEST_PASSWORD, forwarded="192.0.2.99, 203.0.113.5").status_code == 429


def test_without_trusted_proxies_x_forwarded_for_is_ignored(db, settings):
    settings.PORTAL_TRUSTED_PROXY_HOPS = 0
    UserFactory(username="alice")
    for n in range(settings.AXES_FAILURE_LIMIT):
        _post("alice", "wrong", remote="203.0.113.5", forwarded=f"192.0.2.{n}")

    locked = _post("alice", TEST_PASSWORD, remote="203.0.113.5", forwarded="198.51.100.7")
    assert locked.status_code == 429


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (0, "192.0.2.1", PROXY),
        (1, "192.0.2.1", "192.0.2.1"),
        (1, "evil, 192.0.2.1", "192.0.2.1"),
        (2, "192.0.2.1, 10.0.0.9", "192.0.2.1"),
        (2, "", PROXY),
        (1, "not-an-address", PROXY),
    ],
)
def test_client_address_counts_trusted_hops_from_the_right(rf, settings, hops, forwarded, expected):
    settings.PORTAL_TRUSTED_PROXY_HOPS = hops
    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)
    assert sign_in.client_address(request) == expected


def test_failures_from_many_addresses_slow_the_account_down(db, settings, monkeypatch):
    settings.PORTAL_SIGN_IN_SLOWDOWN_AFTER = 3
    settings.PORTAL_SIGN_IN_SLOWDOWN_MAX_SECONDS = 60
    clock = [1_000_000.0]
    monkeypatch.setattr(sign_in, "_now", lambda: clock[0])
    UserFactory(username="alice")
    # Three addresses, each under the per-address lockout limit.
    for n in range(3):
        assert _post("alice", "wrong", remote=f"198.51.100.{n}").status_code == 200
    assert _post("alice", "wrong", remote="198.51.100.50").status_code == 429
    clock[0] += 1
    assert _post("alice", "wrong", remote="198.51.100.51").status_code == 200

    # A fourth address with the right password must wait: the password is not even tried.
    slowed = _post("alice", TEST_PASSWORD, remote="198.51.100.60")
    assert slowed.status_code == 429
    assert "Try again in 2 seconds" in slowed.content.decode()
    # Attempts refused during the wait do not lengthen it.
    _post("alice", "wrong", remote="198.51.100.61")
    clock[0] += 2
    assert _post("alice", TEST_PASSWORD, remote="198.51.100.62").status_code == 302
    # Success clears the count.
    assert sign_in.sign_in_wait_seconds("alice") == 0


def test_slowdown_wait_doubles_up_to_the_ceiling(db, settings, monkeypatch):
    settings.PORTAL_SIGN_IN_SLOWDOWN_AFTER = 1
    settings.PORTAL_SIGN_IN_SLOWDOWN_MAX_SECONDS = 8
    clock = [1_000_000.0]
    monkeypatch.setattr(sign_in, "_now", lambda: clock[0])
    waits = []
    for n in range(6):
        _post("nobody-by-this-name", "wrong", remote=f"198.51.100.{n}")
        waits.append(sign_in.sign_in_wait_seconds("nobody-by-this-name"))
        clock[0] += waits[-1]
    assert waits == [1, 2, 4, 8, 8, 8]
    # Case and surrounding spaces do not make a new account to guess at.
    assert sign_in.sign_in_wait_seconds(" Nobody-By-This-Name") == 0  # the clock moved on
    clock[0] -= 1
    assert sign_in.sign_in_wait_seconds(" Nobody-By-This-Name") == 1


def test_passwords_shorter_than_twelve_characters_are_refused(db):
    with pytest.raises(ValidationError, match="at least 12 characters"):
        validate_password("k8#Lq2!vZp0")  # 11 characters, otherwise strong
    validate_password("k8#Lq2!vZp0w")
    validate_password(TEST_PASSWORD)


def test_the_demo_password_meets_the_policy(db):
    import re
    from pathlib import Path

    run_dev = (Path(__file__).resolve().parents[2] / "bin" / "run-dev").read_text()
    demo = re.search(r'DEMO_PASSWORD="\$\{DEMO_PASSWORD:-([^}]*)\}"', run_dev).group(1)
    validate_password(demo)


def test_admin_site_refuses_a_signed_in_non_staff_user_and_their_password(db):
    UserFactory(username="plain-user")
    client = Client()
    assert (
        client.post(
            reverse("login"), {"username": "plain-user", "password": TEST_PASSWORD}
        ).status_code
        == 302
    )

    assert client.get("/admin/").status_code == 302
    refused = client.post("/admin/login/", {"username": "plain-user", "password": TEST_PASSWORD})
    assert refused.status_code == 200
    assert "for a staff account" in refused.content.decode()
