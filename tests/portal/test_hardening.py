"""Security headers, cookies and Django's deployment checklist under production settings."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.test import Client
from django.urls import reverse

from triage.models import Role

ROOT = Path(__file__).resolve().parents[2]


def _production_env(**extra) -> dict[str, str]:
    # Test-only switches (browser tests allow Django's async-unsafe calls) stay out of it.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PORTAL_", "SANDBOX_")) and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    env.update(
        DEBUG="0",
        SECRET_KEY="x" * 64 + "production-like-secret-key-for-the-checklist",
        PORTAL_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="portal.example.com",
        SANDBOX_ENABLED="0",
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_VAR_DIR=str(ROOT / "var" / "deploy-check"),
        **extra,
    )
    return env


def _run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_check_deploy_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=_production_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.slow
def test_check_deploy_is_clean_with_single_sign_on_configured(tmp_path):
    config = tmp_path / "oidc.json"
    config.write_text('{"client_secret": "from-the-settings-file", "button_label": "Company"}')
    env = _production_env(
        PORTAL_OIDC_ISSUER="https://idp.example.com",
        PORTAL_OIDC_CLIENT_ID="triage-portal",
        PORTAL_OIDC_CONFIG_FILE=str(config),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.PORTAL_OIDC_ISSUER, s.OIDC_RP_CLIENT_ID, s.OIDC_RP_CLIENT_SECRET, "
        "s.PORTAL_OIDC_BUTTON_LABEL, s.OIDC_USE_PKCE)"
    )
    printed = _run_python(code, env)
    assert printed.stdout.split() == [
        "https://idp.example.com",
        "triage-portal",
        "from-the-settings-file",
        "Company",
        "True",
    ], printed.stderr


@pytest.mark.slow
def test_production_cookies_and_hsts():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE, "
        "s.CSRF_COOKIE_SECURE, s.CSRF_COOKIE_HTTPONLY, s.CSRF_COOKIE_SAMESITE, "
        "s.SECURE_HSTS_SECONDS >= 31536000, s.SECURE_SSL_REDIRECT, s.DEBUG, s.SANDBOX_ENABLED)"
    )
    result = _run_python(code, _production_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "True",
        "Lax",
        "True",
        "True",
        "Lax",
        "True",
        "True",
        "False",
        "False",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("missing", ["SECRET_KEY", "PORTAL_ENCRYPTION_KEYS"])
def test_production_refuses_to_start_without_its_secrets(missing):
    env = _production_env()
    env.pop(missing)
    result = _run_python("import django; django.setup()", env)
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


@pytest.fixture
def pages(team, member, client_as):
    client = client_as(member(Role.ADMIN))
    return client, [
        reverse("password_change"),
        reverse("dashboard", kwargs={"team_slug": team.slug}),
        reverse("settings-connections", kwargs={"team_slug": team.slug}),
        reverse("settings-members", kwargs={"team_slug": team.slug}),
        reverse("settings-audit", kwargs={"team_slug": team.slug}),
        reverse("preferences"),
        reverse("two-factor"),
    ]


def test_security_headers_on_every_page(pages):
    client, urls = pages
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        csp = response["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, url
        assert "script-src 'self'" in csp and "style-src 'self'" in csp, url
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, url
        assert response["X-Content-Type-Options"] == "nosniff", url
        assert response["Referrer-Policy"] == "same-origin", url
        assert response["X-Frame-Options"] == "DENY", url


def test_hsts_is_sent_over_https_when_enabled(settings, team, member, client_as):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_SSL_REDIRECT = False
    response = client_as(member(Role.VIEWER)).get(reverse("login"), secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_login_page_headers_and_markup(db):
    response = Client().get(reverse("login"))
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert " style=" not in response.content.decode()


def test_single_sign_on_pages_headers_and_markup(db, settings):
    settings.PORTAL_OIDC_ISSUER = "http://127.0.0.1:9/unreachable"
    settings.OIDC_RP_CLIENT_ID = "triage-portal"
    client = Client()
    login = client.get(reverse("login"))
    failure = client.get(reverse("sso-login"))
    callback = client.get(reverse("sso-callback") + "?code=x&state=forged")
    assert "Sign in with your company account" in login.content.decode()
    assert (failure.status_code, callback.status_code) == (502, 400)
    for response in (login, failure, callback):
        assert "unsafe-inline" not in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert "no-store" in response.get("Cache-Control", "") or response is login
        body = response.content.decode()
        assert " style=" not in body and "<script>" not in body
        assert "Traceback" not in body


def test_pages_have_no_inline_script_or_style(pages):
    client, urls = pages
    for url in urls:
        body = client.get(url).content.decode()
        assert "<script>" not in body and "<script type" not in body, url
        assert " style=" not in body and "<style" not in body, url
        assert "javascript:" not in body, url


def test_admin_needs_staff(team, member, client_as):
    non_staff = client_as(member(Role.ADMIN))
    response = non_staff.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_admin_login_is_locked_out_like_the_portals(db):
    from tests.factories import TEST_PASSWORD, UserFactory

    UserFactory(username="staffer", is_staff=True, is_superuser=True)
    client = Client()
    for _ in range(5):
        client.post("/admin/login/", {"username": "staffer", "password": "wrong"})
    locked = client.post("/admin/login/", {"username": "staffer", "password": TEST_PASSWORD})
    assert locked.status_code == 429


def test_admin_never_shows_the_api_key(db, settings):
    from tests.factories import KolegaConnectionFactory, UserFactory

    connection = KolegaConnectionFactory(api_key="kcp_test_adminmustnotshow42")
    admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin_user)
    page = client.get(f"/admin/triage/kolegaconnection/{connection.pk}/change/")
    assert page.status_code == 200
    assert "adminmustnotshow42" not in page.content.decode()
