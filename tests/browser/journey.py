"""Walking the portal as one person: every page visited is screenshotted and checked with
axe-core for serious or critical accessibility violations.

``Journey.visit(label, action)`` runs ``action`` (a click, a form submission, a ``goto``),
waits for the page and its htmx requests to settle, saves ``NN-label.png`` under the test's
output folder and runs axe-core on the page.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from tests.factories import UserFactory
from triage.models import KolegaConnection, Membership, Role

AXE_FILE = "vendor/axe-core/axe-4.14.1.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
BLOCKING_IMPACTS = {"serious", "critical"}

# True once the document has loaded and no htmx request is in flight (htmx marks the element
# that issued a request with `htmx-request` until its swap settles).
SETTLED = """() => document.readyState === 'complete'
    && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"""


def connect_and_sync(team, live_server, key: str) -> KolegaConnection:
    """The team connected (by an admin made for it) to the sandbox organization whose API key
    is ``key``, fully synced over HTTP."""
    from triage.services.connections import connection_create
    from triage.sync import sync_connection_full

    admin = UserFactory()
    Membership.objects.create(team=team, user=admin, role=Role.ADMIN)
    created = connection_create(
        team=team, actor=admin, name="Acme", base_url=live_server.url + "/sandbox", api_key=key
    )
    connection = KolegaConnection.objects.get(pk=created.pk)
    run = sync_connection_full(connection=connection)
    assert run.status == "succeeded", run.error
    return connection


def connect_demo_organization(
    team, live_server, *, slug: str, name: str = "Acme Journeys"
) -> KolegaConnection:
    """The team connected to a freshly seeded sandbox demo organization, fully synced."""
    from sandbox.services.seed import demo_organization_seed

    _, key, _ = demo_organization_seed(slug=slug, name=name)
    return connect_and_sync(team, live_server, key)


class AccessibilityViolations(AssertionError):
    pass


class Journey:
    def __init__(self, page, live_server, output_dir: Path, *, background=None):
        self.page = page
        self.live_server = live_server
        self.output_dir = output_dir
        self.background = background
        self.visited: list[str] = []
        self.violations: list[str] = []

    def url(self, path: str) -> str:
        return self.live_server.url + path

    def visit(self, label: str, action: Callable[[], object] | str | None = None) -> None:
        """Do ``action`` (a path to open, or a callable that clicks), then check the page."""
        if isinstance(action, str):
            self.page.goto(self.url(action))
        elif action is not None:
            action()
        self.settle()
        self.check(label)

    def narrow(self, action: Callable[[], object], url) -> None:
        """Change a filter of an htmx list and wait until the narrowed list is in place (the
        URL follows it), so that the next change is not made on a list being replaced."""
        action()
        self.page.wait_for_url(url)
        self.settle()

    def settle(self) -> None:
        self.page.wait_for_load_state("load")
        self.page.wait_for_function(SETTLED)

    def check(self, label: str) -> None:
        """Screenshot the page as it is now and run axe-core on it."""
        self.visited.append(label)
        target = self.output_dir / f"{len(self.visited):02d}-{label}.png"
        # caret="initial": hiding the caret injects a <style> element, which the CSP refuses.
        self.page.screenshot(path=str(target), full_page=True, caret="initial")
        self._axe(label)

    def _axe(self, label: str) -> None:
        # The portal's CSP allows scripts from 'self' only, so axe-core is loaded as a script
        # served by the live server from the vendored static file (no inline script, no CSP
        # bypass): the page is checked under exactly the policy users get.
        if not self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            self.page.add_script_tag(url=self.url(settings.STATIC_URL + AXE_FILE))
        result = self.page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
            ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " targets: v.nodes.map(n => n.target.join(' ')).slice(0, 8)})))",
            AXE_TAGS,
        )
        blocking = [v for v in result if v["impact"] in BLOCKING_IMPACTS]
        if blocking:
            lines = [f"{label} ({self.page.url}):"] + [
                f"  [{v['impact']}] {v['id']}: {v['help']} -> {json.dumps(v['targets'])}"
                for v in blocking
            ]
            self.violations.append("\n".join(lines))

    def assert_accessible(self) -> None:
        """Fail with every serious or critical violation found on the pages visited."""
        if self.violations:
            raise AccessibilityViolations("\n".join(self.violations))

    def wait_until(
        self, condition: Callable[[], bool], *, timeout: float = 60, what: str = "condition"
    ) -> None:
        """Wait for ``condition`` while background work runs (the worker, or tasks run here)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.background is not None:
                self.background.run_due()
                with self.background.quiet():
                    if condition():
                        return
            elif condition():
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what} on {self.page.url}")
            self.page.wait_for_timeout(250)
