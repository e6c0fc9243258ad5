"""Every value a person reads is its label: the main pages, rendered with data that holds
every status, scan type and event type, show none of the domain's raw values (``secrets_scan``,
``needs_manual_review``, ``resolved_manual``) in their visible text. CSV exports keep the raw
values on purpose (they are read by machines) and are not checked here."""

import importlib
import inspect
import pkgutil
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.db import models
from django.urls import reverse
from django.utils import timezone

import triage.models
from tests.factories import (
    FindingEventFactory,
    FindingFactory,
    FixFactory,
    PullRequestFactory,
    ScanBatchFactory,
    link,
)
from tests.security.urlmap import VictimWorld
from triage.models import FindingEventType, FindingStatus, Role, ScanType, SyncState


def _raw_values() -> set[str]:
    """The values of every choice set of the models that cannot pass for a word."""
    values = set()
    for info in pkgutil.walk_packages(triage.models.__path__, "triage.models."):
        module = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            for choices in [cls, *vars(cls).values()]:
                if inspect.isclass(choices) and issubclass(choices, models.TextChoices):
                    values |= {v for v in choices.values if "_" in v}
    return values


RAW_VALUES = _raw_values()
# Attributes a person reads (a tooltip, a screen reader's name); the rest are for machines.
READ_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt"}


class VisibleText(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._hidden += 1
        self.parts += [value or "" for name, value in attrs if name in READ_ATTRIBUTES]

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template"):
            self._hidden = max(0, self._hidden - 1)

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible_text(body: str) -> str:
    parser = VisibleText()
    parser.feed(body)
    return " ".join(parser.parts)


# A snake_case word standing alone (not part of a path, file name or check id).
SNAKE_CASE = re.compile(r"(?<![\w./:-])[A-Za-z][a-z]*(?:_[a-z]+)+(?![\w./:-])")


def raw_values_in(text: str) -> set[str]:
    """The domain's values, and any other internal name (``scan_batches``), in ``text``."""
    found = {value for value in RAW_VALUES if re.search(rf"\b{re.escape(value)}\b", text)}
    return found | set(SNAKE_CASE.findall(text))


@pytest.fixture
def world(team, member, sandbox_transport):
    """A team whose rows hold every value a page may show."""
    world = VictimWorld(team=team, owner=member(Role.ADMIN, username="owner-admin"))
    repository = world.repository
    findings = [
        FindingFactory(repository=repository, status=status, scan_type=scan_type)
        for status, scan_type in zip(
            [*FindingStatus.values, *FindingStatus.values],
            [*ScanType.values, *reversed(ScanType.values), ScanType.SECRETS],
            strict=False,
        )
    ]
    world.made["findings"] = findings
    detailed = findings[1]
    for event_type in FindingEventType.values:
        FindingEventFactory(
            finding=detailed,
            event_type=event_type,
            scan_type="secrets_scan",
            previous_status="needs_manual_review",
            new_status="false_positive",
        )
    world.made["detailed"] = detailed
    for scan_type in ScanType.values:
        batch = ScanBatchFactory(
            repository=repository, scan_type=scan_type, status="partial_failure"
        )
        link(batch, *findings)
    world.made["batch"] = ScanBatchFactory(
        repository=repository,
        scan_type="secrets_scan",
        status="creating_scans",
        completed_at=None,
        percent_complete=10.0,
    )
    world.made["batch"].progress_repositories = [
        {"repository": "acme/app", "branch": "main", "status": "waiting_for_runner"},
        {"repository": "acme/api", "branch": "main", "status": "partial_failure"},
    ]
    world.made["batch"].save()
    link(world.made["batch"], detailed)
    PullRequestFactory(fix=world.fix, merge_status="open")
    world.sync_run.details = {"rows": {"scan_batches": 3, "finding_events": 2, "fix_diffs": 1}}
    world.sync_run.save()
    FixFactory(
        repository=repository,
        status="pr_creation_failed",
        finding_ids=[detailed.upstream_id],
        completed_at=timezone.now() - timedelta(hours=1),
    )
    world.status_job.target_status = "needs_manual_review"
    world.status_job.save()
    world.dismissal.requested_status = "false_positive"
    world.dismissal.save()
    SyncState.objects.update_or_create(
        connection=world.connection, defaults={"last_success_at": timezone.now()}
    )
    for attribute in ("fix", "approval", "sync_run", "saved_view"):
        getattr(world, attribute)
    return world


def _pages(world):
    slug = world.team.slug
    team = {"team_slug": slug}
    batch = world.made["batch"]
    return {
        "dashboard": reverse("dashboard", kwargs=team),
        "findings": reverse("findings", kwargs=team),
        "findings of a batch": reverse("findings", kwargs=team) + f"?batch={batch.pk}",
        "finding": reverse("finding", kwargs={**team, "finding_id": world.made["detailed"].pk}),
        "bulk jobs": reverse("findings-jobs", kwargs=team),
        "bulk job": reverse("findings-job", kwargs={**team, "job_id": world.status_job.pk}),
        "scans": reverse("scans", kwargs=team),
        "scan batch": reverse("scan-batch", kwargs={**team, "batch_id": batch.pk}),
        "new scan": reverse("scan-new", kwargs=team),
        "fixes": reverse("fixes", kwargs=team),
        "fix": reverse("fixes-detail", kwargs={**team, "fix_id": world.fix.pk}),
        "approvals": reverse("approvals", kwargs=team),
        "dismissal request": reverse(
            "approvals-dismissal", kwargs={**team, "dismissal_id": world.dismissal.pk}
        ),
        "reports": reverse("reports", kwargs=team),
        "SLA breaches": reverse("reports-sla", kwargs=team) + "?kind=breached",
        "sync": reverse("settings-sync", kwargs=team),
        "sync run": reverse("settings-sync-run", kwargs={**team, "run_id": world.sync_run.pk}),
    }


def test_the_checked_values_include_the_ones_people_saw():
    assert {"secrets_scan", "needs_manual_review", "resolved_manual"} <= RAW_VALUES


def test_pages_show_no_raw_values(world, client_as):
    client = client_as(world.owner)
    shown = {}
    for name, url in _pages(world).items():
        response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
        text = visible_text(response.content.decode())
        raw = raw_values_in(text)
        # One label per scan type: Kolega's tool name is not one of them.
        raw |= {"Semgrep"} if "Semgrep" in text else set()
        if raw:
            shown[name] = sorted(raw)
    assert shown == {}


def test_messages_name_statuses_by_their_labels(world, client_as):
    """A refused action says what state the object is in, in words."""
    client = client_as(world.owner)
    failed = FixFactory(repository=world.repository, status="pr_creation_failed")
    url = reverse("fixes-detail", kwargs={"team_slug": world.team.slug, "fix_id": failed.pk})
    response = client.post(url, {"action": "cancel"}, follow=True)
    text = visible_text(response.content.decode())
    assert "Only a pending or running fix can be cancelled" in text
    assert "Pull request creation failed" in text
    assert raw_values_in(text) == set()


def test_names_of_objects_are_words(world):
    """An object's name is what the audit log shows as the target of a write (it once read
    "semgrep_scan fcc1…" and "dismissal 3 to false_positive (pending)")."""
    named = [
        world.made["batch"],
        world.dismissal,
        world.approval,
        world.sync_run,
        world.status_job.items.first(),
    ]
    assert {str(obj): raw_values_in(str(obj)) for obj in named} == {
        str(obj): set() for obj in named
    }
