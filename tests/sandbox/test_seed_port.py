"""`sandbox_seed` prints the address the sandbox is really served at."""

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_seed_prints_the_port_the_portal_serves_on(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "8123")
    call_command("sandbox_seed", "--key", "kcp_test_seed_port_key_0123456789ab")
    assert "Base URL: http://127.0.0.1:8123/sandbox" in capsys.readouterr().out


def test_seed_prints_an_explicit_base_url(capsys):
    call_command(
        "sandbox_seed",
        "--key",
        "kcp_test_seed_port_key_0123456789ab",
        "--base-url",
        "http://127.0.0.1:9000/sandbox",
    )
    assert "Base URL: http://127.0.0.1:9000/sandbox" in capsys.readouterr().out
