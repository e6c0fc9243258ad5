"""Headless Chromium (Debian's package) driven by Playwright against the live test server.

Every test marked ``browser`` gets a ``browser_page`` and can save screenshots with
``shot(page, "name")`` under test-output/<test name>/.

A browser test fails on any console error, uncaught script error or Content-Security-Policy
violation on any page it visited: ``browser_page`` checks them when the test ends.
"""

import os
import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings as django_settings

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT_ROOT = Path(__file__).resolve().parents[2] / "test-output"

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls from
# a thread with a running loop unless told this is intended (it is: tests are synchronous).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def output_dir(request) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid.split("::", 1)[-1])
    path = OUTPUT_ROOT / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def shot(output_dir):
    counter = {"n": 0}

    def take(page, name: str) -> Path:
        counter["n"] += 1
        target = output_dir / f"{counter['n']:02d}-{name}.png"
        # The default caret="hide" injects a <style> element, which the CSP refuses.
        page.screenshot(path=str(target), full_page=True, caret="initial")
        return target

    return take


# Runs in every document before its own scripts: each CSP violation is reported on the console
# (Chromium reports most, not all, by itself) with what was refused and where.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(
    "CSP violation: " + event.violatedDirective + " refused " + (event.blockedURI || "inline")
    + " at " + (event.sourceFile || event.documentURI) + ":" + event.lineNumber
    + (event.sample ? " (" + event.sample + ")" : "")
  );
});
"""


@pytest.fixture
def browser_page(chromium, live_server):
    """A fresh browser context. ``page.console_errors`` collects console errors, uncaught
    script errors and CSP violations; the test fails if any is left at its end (a test that
    provokes one on purpose removes it from the list after asserting it)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    page = context.new_page()
    errors: list[str] = []

    def on_console(message):
        if message.type == "error":
            location = message.location or {}
            errors.append(f"{message.text} [{location.get('url', '')}]")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"Uncaught: {error}"))
    page.console_errors = errors
    yield page
    context.close()
    if errors:
        pytest.fail("Console errors or CSP violations in the browser:\n" + "\n".join(errors))


@pytest.fixture
def sign_in(live_server):
    """Sign ``user`` in by setting a real session cookie (the login form has its own tests)."""
    from django.test import Client

    def do(page, user):
        client = Client()
        client.force_login(user)
        cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
        page.context.add_cookies(
            [{"name": cookie.key, "value": cookie.value, "url": live_server.url}]
        )

    return do


@pytest.fixture
def demo_key(transactional_db) -> str:
    """The API key of a seeded sandbox organization, for tests that connect and sync."""
    from sandbox.services.seed import demo_organization_seed

    _, key, _ = demo_organization_seed(slug="acme-rules", name="Acme Rules")
    return key


@pytest.fixture
def demo_connection(team, live_server, demo_key):
    """The team connected to the seeded sandbox organization of ``demo_key``, fully synced."""
    from tests.browser.journey import connect_and_sync

    return connect_and_sync(team, live_server, demo_key)


@pytest.fixture
def fast_tracking(monkeypatch, settings):
    """Fixes tracked every second, on a sandbox clock ten times as fast."""
    # Read by the worker process at start, and by the live server's sandbox per fix.
    monkeypatch.setenv("PORTAL_TRACK_POLL_SECONDS", "1")
    settings.SANDBOX_TIME_SCALE = 0.1
