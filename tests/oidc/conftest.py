"""A real OpenID Connect provider for the single sign-on tests: the npm package oidc-provider,
run by Node as a separate process on loopback (tests/oidc/provider/, installed by `make
install`), and a browser-like HTTP client that signs in on its own login page."""

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.factories import TeamFactory
from tests.smtp_fixtures import free_port
from triage.models import GroupRoleMapping, Role

PROVIDER_DIR = Path(__file__).resolve().parent / "provider"
CLIENT_ID = "triage-portal"
CLIENT_SECRET = "test-client-secret"
OTHER_CLIENT_ID = "another-application"
OTHER_CLIENT_SECRET = "another-client-secret"
PORTAL_ORIGIN = "http://testserver"

USERS = {
    "ada": {"email": "ada@example.com", "name": "Ada Admin", "groups": ["sec-admins"]},
    "tom": {"email": "tom@example.com", "name": "Tom Triager", "groups": ["sec-triage", "staff"]},
    "nog": {"email": "nog@example.com", "name": "No Group", "groups": ["staff"]},
}


@dataclass
class IdentityProvider:
    issuer: str
    users_file: Path
    process: subprocess.Popen | None = None
    start_command: list = field(default_factory=list)
    env: dict = field(default_factory=dict)

    def set_users(self, users: dict) -> None:
        self.users_file.write_text(json.dumps(users))

    def set_groups(self, login: str, groups: list[str]) -> None:
        users = json.loads(self.users_file.read_text())
        users[login]["groups"] = groups
        self.set_users(users)

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.start_command,
            cwd=PROVIDER_DIR,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    "the identity provider exited: " + self.process.stderr.read().decode()[-2000:]
                )
            try:
                response = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=1)
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the identity provider did not start within 20 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


def start_identity_provider(directory: Path, origin: str) -> IdentityProvider:
    """Start the provider with the users of USERS and the portal's client (and another one)
    sending browsers back to `origin`; skips when Node.js is not installed."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node.js is not installed: the identity provider of these tests needs it")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        pytest.fail("the test identity provider is not installed: run `make install`")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    clients = [
        {
            "client_id": client_id,
            "client_secret": secret,
            "redirect_uris": [f"{origin}/sso/callback/"],
            "post_logout_redirect_uris": [f"{origin}/login/"],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_post",
        }
        for client_id, secret in (
            (CLIENT_ID, CLIENT_SECRET),
            (OTHER_CLIENT_ID, OTHER_CLIENT_SECRET),
        )
    ]
    (directory / "clients.json").write_text(json.dumps(clients))
    idp = IdentityProvider(issuer=issuer, users_file=directory / "users.json")
    idp.set_users(USERS)
    idp.start_command = [node, "server.mjs"]
    idp.env = {
        **os.environ,
        "PORT": str(port),
        "ISSUER": issuer,
        "USERS_FILE": str(idp.users_file),
        "CLIENTS_FILE": str(directory / "clients.json"),
    }
    idp.start()
    return idp


def use_identity_provider(settings, idp: IdentityProvider) -> None:
    """Set the portal up to sign in through `idp` (over plain http on loopback)."""
    settings.PORTAL_OIDC_ISSUER = idp.issuer
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.PORTAL_OUTBOUND_ALLOW_HTTP = True
    settings.PORTAL_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    # Tests stop the provider and change its settings between requests.
    settings.PORTAL_OIDC_DISCOVERY_CACHE_SECONDS = 0


@pytest.fixture(scope="session")
def identity_provider(tmp_path_factory):
    """The provider, started once for the session; each test gets its users reset."""
    idp = start_identity_provider(tmp_path_factory.mktemp("identity-provider"), PORTAL_ORIGIN)
    yield idp
    idp.stop()


@pytest.fixture
def provider(identity_provider, settings):
    """The running provider, the portal set up to sign in through it, and its users as at
    the start."""
    if identity_provider.process is None:
        identity_provider.start()
    identity_provider.set_users(USERS)
    use_identity_provider(settings, identity_provider)
    yield identity_provider
    if identity_provider.process is None:
        identity_provider.start()


@pytest.fixture
def security_team(db):
    """A team with groups mapped to an admin and a triager role."""
    team = TeamFactory(slug="security", name="Security")
    GroupRoleMapping.objects.create(group="sec-admins", team=team, role=Role.ADMIN)
    GroupRoleMapping.objects.create(group="sec-triage", team=team, role=Role.TRIAGER)
    return team


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append({"action": attrs.get("action") or "", "fields": {}})
        elif tag in ("input", "button") and self.forms and attrs.get("name"):
            self.forms[-1]["fields"].setdefault(attrs["name"], attrs.get("value") or "")


class ProviderBrowser:
    """A browser at the provider: follows its redirects, fills in its login and consent pages,
    and stops at the redirect back to the portal."""

    def __init__(self):
        self.http = httpx.Client(follow_redirects=False, timeout=10)

    def close(self):
        self.http.close()

    def visit(self, url: str, login: str) -> str:
        """The portal URL the provider sends the browser back to, after signing in as `login`."""
        response = self.http.get(url)
        for _ in range(20):
            if response.is_redirect:
                url = urljoin(str(response.url), response.headers["location"])
                if url.startswith(PORTAL_ORIGIN):
                    return url
                response = self.http.get(url)
                continue
            assert response.status_code == 200, response.text[:500]
            parser = _Forms()
            parser.feed(response.text)
            assert parser.forms, response.text[:500]
            form = parser.forms[0]
            fields = dict(form["fields"])
            if "login" in fields or "password" in fields:
                fields.update({"login": login, "password": "any password"})
            response = self.http.post(urljoin(str(response.url), form["action"]), data=fields)
        raise AssertionError("the provider did not send the browser back")


@pytest.fixture
def provider_browser():
    browser = ProviderBrowser()
    yield browser
    browser.close()


def portal_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path
