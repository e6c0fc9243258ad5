"""The load scenario: people browsing the portal, and triagers running bulk status changes.

Every user signs in once through the login form (with its CSRF token), then works like a
person in a browser: full pages, and the htmx fragments those pages ask for (quota meters,
the next page of the table, the progress of a bulk job). Redirects are never followed
silently: a page that answers anything but itself (a redirect to the login page, an error)
counts as a failure.

Each user keeps a schedule once signed in (loadtest/measures.py, UserSchedule): its pauses
(think time, reading, polling) move the schedule on, the server's answers do not; a user kept
waiting by the server pauses less to catch up. The requests the schedules asked for against
the ones answered give the run's "served %". Every request names itself to the server in an
X-Load-Name header, under which the server writes down its CPU time (loadtest/server_cpu.py).

Configured by the environment, so that `locust -f loadtest/locustfile.py` also works on its
own against a server seeded by `python -m loadtest.seed`:
LOADTEST_TEAM (team slug), LOADTEST_PASSWORD, LOADTEST_BULK_USERS (how many of the users run
bulk changes; the rest browse).
"""

from __future__ import annotations

import html
import itertools
import os
import random
import re
import time
from urllib.parse import urlencode

from locust import FastHttpUser, task
from locust.exception import StopUser

from loadtest.measures import UserSchedule
from loadtest.server_cpu import NAME_HEADER

TEAM = os.environ.get("LOADTEST_TEAM", "load")
PASSWORD = os.environ.get("LOADTEST_PASSWORD", "")
BULK_USERS = int(os.environ.get("LOADTEST_BULK_USERS", "5"))
BROWSING_PREFIX = "load-browse-"
BULK_PREFIX = "load-bulk-"
# The progress fragment polls every 2 s (hx-trigger="every 2s"), as the page does.
POLL_SECONDS = 2.0
JOB_TIMEOUT_SECONDS = 120.0

SEVERITIES = ("critical", "high", "medium", "low")
STATUSES = ("open", "needs_manual_review", "resolved", "ignored", "false_positive")
SCAN_TYPES = ("secrets_scan", "semgrep_scan", "deep_ai_scan", "sbom_scan")
SORTS = ("severity", "-severity", "age", "-age", "last_detected", "-last_detected", "file", "-file")
SEARCH_WORDS = ("sql", "token", "aws", "cross-site", "md5", "admin_1", "settings_2", "queries")
CHECK_IDS = ("python.sqli.string-format", "js.xss.inner-html", "go.weak-hash-md5")

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
REPOSITORY_SELECT = re.compile(
    r'<select id="filter-repository" name="repository">(.*?)</select>', re.S
)
OPTION_VALUE = re.compile(r'<option value="(\d+)"')
FINDING_CHECKBOX = re.compile(r'name="finding" value="(\d+)"')
FINDING_LINK = re.compile(rf'href="/t/{re.escape(TEAM)}/findings/(\d+)/"')
NEXT_LINK = re.compile(r'rel="next" href="\?([^"]*)"')
PREVIOUS_LINK = re.compile(r'rel="prev" href="\?([^"]*)"')
JOB_FAILED = re.compile(r'id="job-failed">(\d+)<')

# Users signed in so far; the driver starts measuring once every user has.
signed_in = 0
# Every signed-in user's schedule, and the requests answered on it (see record_request).
schedules: list[UserSchedule] = []
_browsing_numbers = itertools.count()
_bulk_numbers = itertools.count()

HTMX = {"HX-Request": "true"}


def _named(name: str, headers: dict | None = None) -> dict:
    return {**(headers or {}), NAME_HEADER: name}


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _form(fields: dict) -> str:
    """A form's body as a browser posts it (a list is one field repeated)."""
    return urlencode(fields, doseq=True)


def record_request(*, context: dict, exception, **_) -> None:
    """Listener of locust's request event: an answered request, on its user's schedule."""
    schedule = context.get("schedule")
    if schedule is not None:
        # The clock does not move while the user waits: it still says when this was due.
        schedule.requests.append((schedule.clock, time.monotonic(), exception is None))


def _expect(response, status: int, marker: str | None = None) -> bool:
    """Mark ``response`` failed unless it has ``status`` (and contains ``marker``)."""
    if response.status_code == 0:
        response.failure(f"no answer: {response.error!r}")
        return False
    if response.status_code != status:
        location = response.headers.get("Location", "")
        response.failure(f"HTTP {response.status_code}{' to ' + location if location else ''}")
        return False
    if marker is not None and marker not in response.text:
        response.failure(f"the answer lacks {marker!r}")
        return False
    response.success()
    return True


class PortalUser(FastHttpUser):
    abstract = True
    # Each user is one person in one browser tab: one request at a time.
    concurrency = 1
    username_prefix = ""
    numbers = _browsing_numbers
    # Seconds of think time between two tasks, drawn evenly.
    think_seconds = (1.0, 5.0)
    schedule: UserSchedule | None = None

    def context(self) -> dict:
        return {"schedule": self.schedule} if self.schedule is not None else {}

    def wait_time(self) -> float:
        return self._pause_seconds(random.uniform(*self.think_seconds))

    def _pause_seconds(self, seconds: float) -> float:
        if self.schedule is None:
            return seconds
        return self.schedule.pause(seconds, time.monotonic())

    def _pause(self, seconds: float) -> None:
        """Pause within a task (reading a page, waiting to poll), on the schedule."""
        time.sleep(self._pause_seconds(seconds))

    def on_start(self) -> None:
        global signed_in
        self.username = f"{self.username_prefix}{next(self.numbers):03d}"
        self.base = f"/t/{TEAM}"
        self.repositories: list[str] = []
        self.finding_ids: list[str] = []
        with self.client.get(
            "/login/",
            name="sign in: form",
            headers=_named("sign in: form"),
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if not _expect(response, 200, "csrfmiddlewaretoken"):
                raise StopUser()
            token = CSRF_INPUT.search(response.text).group(1)
        with self.client.post(
            "/login/",
            data=_form(
                {
                    "username": self.username,
                    "password": PASSWORD,
                    "csrfmiddlewaretoken": token,
                    "next": "",
                }
            ),
            name="sign in: submit",
            headers=_named("sign in: submit", FORM),
            allow_redirects=False,
            catch_response=True,
        ) as response:
            # A wrong password answers the form again with 200; only a redirect is success.
            if not _expect(response, 302):
                raise StopUser()
        signed_in += 1
        now = time.monotonic()
        self.schedule = UserSchedule(started=now, clock=now)
        schedules.append(self.schedule)

    def _page(self, url: str, name: str, marker: str, headers: dict | None = None):
        with self.client.get(
            url,
            name=name,
            headers=_named(name, headers),
            allow_redirects=False,
            catch_response=True,
        ) as response:
            ok = _expect(response, 200, marker)
        return response if ok else None

    def _remember(self, body: str) -> None:
        if not self.repositories:
            select = REPOSITORY_SELECT.search(body)
            if select:
                self.repositories = OPTION_VALUE.findall(select.group(1))
        ids = FINDING_LINK.findall(body)
        if ids:
            self.finding_ids = ids


class BrowsingUser(PortalUser):
    """Someone reading: the dashboard, the findings table, a finding, the reports."""

    # People read a page for a few seconds before the next click.
    think_seconds = (1.0, 5.0)
    username_prefix = BROWSING_PREFIX
    numbers = _browsing_numbers

    @task(2)
    def dashboard(self) -> None:
        if self._page(f"{self.base}/", "dashboard", "<h1") is None:
            return
        # The page asks for its quota meters (from Kolega, cached briefly) once loaded.
        self._page(f"{self.base}/dashboard/quota/", "dashboard: quota (htmx)", "", HTMX)

    def _random_filters(self) -> dict[str, object]:
        params: dict[str, object] = {"sort": random.choice(SORTS)}
        if random.random() < 0.5:
            params["severity"] = random.sample(SEVERITIES, random.randint(1, 2))
        if random.random() < 0.6:
            params["status"] = random.choice((["open"], ["open", "needs_manual_review"]))
        if self.repositories and random.random() < 0.3:
            params["repository"] = random.choice(self.repositories)
        if random.random() < 0.2:
            params["scan_type"] = random.choice(SCAN_TYPES)
        if random.random() < 0.15:
            params["q"] = random.choice(SEARCH_WORDS)
        if random.random() < 0.05:
            params["check_id"] = random.choice(CHECK_IDS)
        return params

    @task(5)
    def findings(self) -> None:
        query = urlencode(self._random_filters(), doseq=True)
        response = self._page(f"{self.base}/findings/?{query}", "findings", 'id="findings-count"')
        if response is None:
            return
        self._remember(response.text)
        # Walk on through the table with the cursor links, as the Next button does (htmx).
        for _ in range(random.choice((0, 0, 1, 1, 2, 3))):
            link = NEXT_LINK.search(response.text)
            if link is None:
                break
            if random.random() < 0.2 and PREVIOUS_LINK.search(response.text):
                link = PREVIOUS_LINK.search(response.text)
            self._pause(random.uniform(0.5, 2.0))
            response = self._page(
                f"{self.base}/findings/?{html.unescape(link.group(1))}",
                "findings: another page (htmx)",
                'id="findings-page"',
                HTMX,
            )
            if response is None:
                return
            self._remember(response.text)

    @task(3)
    def finding(self) -> None:
        if not self.finding_ids:
            self.findings()
            return
        finding_id = random.choice(self.finding_ids)
        self._page(f"{self.base}/findings/{finding_id}/", "finding", "<h1")

    @task(1)
    def reports(self) -> None:
        params: dict[str, object] = {"period": random.choice(("7", "30", "90"))}
        if self.repositories and random.random() < 0.3:
            params["repository"] = random.choice(self.repositories)
        self._page(f"{self.base}/reports/?{urlencode(params)}", "reports", 'id="report"')

    @task(1)
    def sla_list(self) -> None:
        params = {"kind": random.choice(("breached", "due")), "severity": random.choice(SEVERITIES)}
        self._page(f"{self.base}/reports/sla/?{urlencode(params)}", "reports: SLA list", "<h1")


class BulkUser(PortalUser):
    """A triager changing the status of a filtered subset, then watching the job finish."""

    fixed_count = BULK_USERS
    think_seconds = (2.0, 6.0)
    username_prefix = BULK_PREFIX
    numbers = _bulk_numbers

    @task
    def bulk_status_change(self) -> None:
        if not self.repositories:
            response = self._page(f"{self.base}/findings/", "findings", 'id="findings-count"')
            if response is None:
                return
            self._remember(response.text)
        current, target = random.sample(STATUSES, 2)
        filters = {
            "repository": random.choice(self.repositories) if self.repositories else "",
            "severity": random.choice(SEVERITIES),
            "status": current,
            "sort": "age",
        }
        filter_query = urlencode({k: v for k, v in filters.items() if v})
        response = self._page(
            f"{self.base}/findings/?{filter_query}",
            "bulk: filtered findings",
            'id="findings-selection"',
        )
        if response is None:
            return
        ids = FINDING_CHECKBOX.findall(response.text)
        if not ids:
            return
        selected = ids[: random.randint(10, 25)]
        form = {
            "csrfmiddlewaretoken": CSRF_INPUT.search(response.text).group(1),
            "filter_query": filter_query,
            "finding": selected,
            "status": target,
            "comment": "Load test bulk change",
        }
        with self.client.post(
            f"{self.base}/findings/bulk/",
            data=_form({**form, "action": "preview"}),
            headers=_named("bulk: preview (htmx)", {**HTMX, **FORM}),
            name="bulk: preview (htmx)",
            catch_response=True,
            allow_redirects=False,
        ) as preview:
            if not _expect(preview, 200, "will change"):
                return
        with self.client.post(
            f"{self.base}/findings/bulk/",
            data=_form({**form, "action": "submit"}),
            name="bulk: start job",
            headers=_named("bulk: start job", FORM),
            catch_response=True,
            allow_redirects=False,
        ) as started:
            if not _expect(started, 302):
                return
            job_url = started.headers["Location"]
            if "/findings/jobs/" not in job_url:
                started.failure(f"redirected to {job_url}, not to a job")
                return
        # The browser follows the redirect to the job's page, which then polls its progress.
        began = time.monotonic()
        if self._page(job_url, "bulk: job page", 'id="job-progress"') is None:
            return
        self._watch(job_url, len(selected), began)

    def _watch(self, job_url: str, size: int, began: float) -> None:
        while time.monotonic() - began < JOB_TIMEOUT_SECONDS:
            self._pause(POLL_SECONDS)
            with self.client.get(
                job_url,
                headers=_named("bulk: job progress (htmx)", HTMX),
                name="bulk: job progress (htmx)",
                catch_response=True,
                allow_redirects=False,
            ) as response:
                # 286 is htmx's "stop polling": the job has finished.
                if response.status_code == 200:
                    response.success()
                    continue
                if not _expect(response, 286, 'id="job-failed"'):
                    return
                failed = int(JOB_FAILED.search(response.text).group(1))
            self._job_done(began, size, failed)
            return
        self._job_done(began, size, None)

    def _job_done(self, began: float, size: int, failed: int | None) -> None:
        """Report the job's whole duration as its own entry (not an HTTP request)."""
        exception = None
        if failed is None:
            exception = RuntimeError(f"the job did not finish within {JOB_TIMEOUT_SECONDS:.0f}s")
        elif failed:
            exception = RuntimeError(f"{failed} of {size} findings failed to change")
        self.environment.events.request.fire(
            request_type="JOB",
            name="bulk: job start to finish",
            response_time=(time.monotonic() - began) * 1000,
            response_length=size,
            exception=exception,
            context={},
        )
