"""Every URL pattern of the project, read from the resolver, and real objects for its kwargs.

A view added later appears here without a change; if its URL has a kwarg this module cannot
make an object for, ``missing_kwargs`` names it and the sweep fails until a factory is added to
``KWARG_FACTORIES``.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from functools import cached_property
from html.parser import HTMLParser
from urllib.parse import urlsplit

from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests.factories import KolegaConnectionFactory

# Distinctive strings of the victim team's objects: none may appear in another team's answers.
VICTIM_MARKERS = {
    "repository": "victim-repo-quokka7",
    "finding_title": "Victim finding title zebra42",
    "finding_path": "victim/secret_path_narwhal9.py",
    "finding_message": "Victim message about the okapi3 handler",
    "fix_title": "Victim fix title pangolin5",
    "connection": "Victim connection axolotl8",
    "saved_view": "Victim saved view tapir6",
    "job_comment": "Victim bulk comment wombat1",
    "approval_note": "Victim approval note lemur2",
    "comment_body": "Victim review comment marmot4",
    "sync_error": "Victim sync error gecko3",
    "diff": "victim_diff_marker_ibex0",
    "dismissal_reason": "Victim dismissal reason jerboa5",
    "finding_comment": "Victim finding comment ferret7",
    "squad": "victim-squad-caracal6",
    "rule_pattern": "/victim/rule_pattern_civet2/",
    "notification_channel": "Victim channel quetzal3",
    "notification_error": "Victim delivery error kinkajou9",
    "campaign": "Victim campaign name serval4",
}


@dataclass(frozen=True)
class UrlEntry:
    url_id: str
    route: str
    name: str | None
    pattern: URLPattern
    kwargs: tuple[str, ...]

    @property
    def callback(self):
        return self.pattern.callback

    @property
    def team_roles(self) -> dict | None:
        return getattr(self.callback, "team_roles", None)

    @property
    def category(self) -> str:
        if self.route.startswith("sandbox/"):
            return "sandbox"
        if self.route.startswith("admin/"):
            return "admin"
        if "team_slug" in self.kwargs:
            return "team"
        return "account"


def _kwargs_of(pattern) -> list[str]:
    if isinstance(pattern, RoutePattern):
        return list(pattern.converters)
    if isinstance(pattern, RegexPattern):
        return list(pattern.regex.groupindex)
    return []


def all_urls() -> list[UrlEntry]:
    found: list[UrlEntry] = []

    def walk(patterns, prefix: str, namespace: str, kwargs: list[str]):
        for item in patterns:
            here = kwargs + _kwargs_of(item.pattern)
            if isinstance(item, URLResolver):
                ns = namespace
                if item.namespace:
                    ns = f"{namespace}{item.namespace}:"
                walk(item.url_patterns, prefix + str(item.pattern), ns, here)
            elif isinstance(item, URLPattern):
                route = prefix + str(item.pattern)
                name = f"{namespace}{item.name}" if item.name else None
                found.append(
                    UrlEntry(
                        # Unnamed patterns are known by their namespace and own route.
                        url_id=name or f"{namespace}{item.pattern}",
                        route=route,
                        name=name,
                        pattern=item,
                        kwargs=tuple(k for k in here if k not in item.default_args),
                    )
                )

    walk(get_resolver().url_patterns, "", "", [])
    return found


def listed(url_id: str, exceptions: dict[str, str]) -> bool:
    return any(
        fnmatch.fnmatchcase(url_id, key) if key.endswith("*") else url_id == key
        for key in exceptions
    )


@dataclass
class VictimWorld:
    """Objects of one team, made on demand and consistent with each other (the approval is of
    the fix, the batch found the finding), so every URL of the team points at real objects."""

    team: object
    owner: object
    made: dict = field(default_factory=dict)

    @cached_property
    def connection(self):
        return KolegaConnectionFactory(team=self.team, name=VICTIM_MARKERS["connection"])

    @cached_property
    def repository(self):
        from tests.factories import RepositoryFactory

        return RepositoryFactory(
            team=self.team, connection=self.connection, name=VICTIM_MARKERS["repository"]
        )

    @cached_property
    def finding(self):
        from tests.factories import FindingFactory
        from triage.models import FindingComment

        values = {
            "title": VICTIM_MARKERS["finding_title"],
            "message": VICTIM_MARKERS["finding_message"],
            "check_id": "python.lang.security.sql-injection",
            "file_path": VICTIM_MARKERS["finding_path"],
        }
        finding = FindingFactory(repository=self.repository, **values)
        # The finding's comment thread, shown on its page and answered by its thread URL.
        FindingComment.objects.create(
            team=self.team,
            connection=finding.connection,
            finding_upstream_id=finding.upstream_id,
            author=self.owner,
            author_label=self.owner.get_username(),
            body=VICTIM_MARKERS["finding_comment"],
        )
        return finding

    @cached_property
    def batch(self):
        from tests.factories import ScanBatchFactory, link

        batch = ScanBatchFactory(repository=self.repository)
        link(batch, self.finding)
        return batch

    @cached_property
    def fix(self):
        from tests.factories import FixFactory

        diff = (
            f"diff --git a/{VICTIM_MARKERS['finding_path']} b/{VICTIM_MARKERS['finding_path']}\n"
            f"--- a/{VICTIM_MARKERS['finding_path']}\n+++ b/{VICTIM_MARKERS['finding_path']}\n"
            f"@@ -1 +1 @@\n-old\n+{VICTIM_MARKERS['diff']}\n"
        )
        return FixFactory(
            repository=self.repository,
            title=VICTIM_MARKERS["fix_title"],
            finding_ids=[self.finding.upstream_id],
            diff=diff,
            status="completed",
            completed_at=timezone.now(),
        )

    @cached_property
    def campaign(self):
        """A launched campaign whose one fix is the victim fix."""
        from triage.models import Campaign, CampaignFinding, CampaignRepository

        campaign = Campaign.objects.create(
            team=self.team,
            name=VICTIM_MARKERS["campaign"],
            owner=self.owner,
            created_by=self.owner,
            instructions="Fix it",
            state=Campaign.State.LAUNCHED,
            check_ids=[self.finding.check_id],
        )
        row = CampaignRepository.objects.create(
            team=self.team,
            campaign=campaign,
            repository=self.repository,
            source_repo="victim/repo",
            title=VICTIM_MARKERS["fix_title"],
            state=CampaignRepository.State.STARTED,
            fix=self.fix,
            fix_upstream_id=self.fix.upstream_id,
        )
        CampaignFinding.objects.create(
            campaign=campaign, finding=self.finding, campaign_repository=row
        )
        return campaign

    @cached_property
    def diff_version(self):
        from tests.factories import FixDiffVersionFactory

        return FixDiffVersionFactory(fix=self.fix)

    @cached_property
    def approval(self):
        from tests.factories import FixApprovalFactory

        version = self.diff_version
        return FixApprovalFactory(
            fix=version.fix,
            diff_sha256=version.sha256,
            requested_by=self.owner,
            note=VICTIM_MARKERS["approval_note"],
            pr_title=VICTIM_MARKERS["fix_title"],
        )

    @cached_property
    def dismissal(self):
        from tests.factories import DismissalRequestFactory

        return DismissalRequestFactory(
            team=self.team,
            requested_by=self.owner,
            reason=VICTIM_MARKERS["dismissal_reason"],
            findings=[self.finding],
        )

    @cached_property
    def review_comment(self):
        from tests.factories import ReviewCommentFactory

        return ReviewCommentFactory(
            fix=self.fix,
            diff_sha256=self.diff_version.sha256,
            file_path=VICTIM_MARKERS["finding_path"],
            author=self.owner,
            body=VICTIM_MARKERS["comment_body"],
        )

    @cached_property
    def pull_request(self):
        from tests.factories import PullRequestFactory

        return PullRequestFactory(fix=self.fix, branch_name="victim-branch-quokka7")

    @cached_property
    def status_job(self):
        from triage.models import FindingStatusJob, FindingStatusJobItem

        job = FindingStatusJob.objects.create(
            team=self.team,
            created_by=self.owner,
            target_status="resolved",
            comment=VICTIM_MARKERS["job_comment"],
            state=FindingStatusJob.State.FINISHED,
            total=1,
            failed=1,
        )
        FindingStatusJobItem.objects.create(
            job=job,
            finding=self.finding,
            connection=self.connection,
            finding_upstream_id=self.finding.upstream_id,
            repository_upstream_id=self.repository.upstream_id,
            previous_status="open",
            target_status="resolved",
            outcome=FindingStatusJobItem.Outcome.FAILED,
            reason=VICTIM_MARKERS["finding_title"],
        )
        return job

    @cached_property
    def saved_view(self):
        from triage.models import SavedView

        return SavedView.objects.create(
            team=self.team,
            user=self.owner,
            name=VICTIM_MARKERS["saved_view"],
            query=f"q={VICTIM_MARKERS['saved_view'].split()[-1]}",
        )

    @cached_property
    def ownership_rule(self):
        """A path rule giving the findings under it to a squad with the team's owner in it."""
        from triage.models import OwnershipRule, Squad

        squad = Squad.objects.create(team=self.team, name=VICTIM_MARKERS["squad"])
        squad.members.add(self.team.memberships.get(user=self.owner))
        return OwnershipRule.objects.create(
            team=self.team,
            kind=OwnershipRule.Kind.PATH,
            pattern=VICTIM_MARKERS["rule_pattern"],
            squad=squad,
        )

    @cached_property
    def squad(self):
        return self.ownership_rule.squad

    @cached_property
    def notification_rule(self):
        """A rule sending finished scans to a Slack channel."""
        from triage.models import EventKind, NotificationChannel, NotificationRule

        return NotificationRule.objects.create(
            team=self.team,
            event_kind=EventKind.SCAN_FINISHED,
            channel=NotificationChannel.objects.create(
                team=self.team,
                name=VICTIM_MARKERS["notification_channel"],
                kind=NotificationChannel.Kind.SLACK,
                url="https://hooks.slack.com/services/T0/B0/victim",
                url_hint="hooks.slack.com …ctim",
            ),
        )

    @cached_property
    def notification_channel(self):
        return self.notification_rule.channel

    @cached_property
    def notification_delivery(self):
        """A failed delivery of a finished scan to the channel."""
        from triage.models import Delivery, EventKind, Notification

        notification = Notification.objects.create(
            team=self.team, event_kind=EventKind.SCAN_FINISHED, dedupe_key="victim", data={}
        )
        return Delivery.objects.create(
            team=self.team,
            notification=notification,
            channel=self.notification_channel,
            state=Delivery.State.FAILED,
            attempts=8,
            error=VICTIM_MARKERS["notification_error"],
        )

    @cached_property
    def sync_run(self):
        from triage.models import SyncRun

        return SyncRun.objects.create(
            connection=self.connection,
            team=self.team,
            kind=SyncRun.Kind.FULL,
            status=SyncRun.Status.FAILED,
            error=VICTIM_MARKERS["sync_error"],
        )

    @cached_property
    def totp_device(self):
        from django_otp.plugins.otp_totp.models import TOTPDevice

        return TOTPDevice.objects.create(user=self.owner, name="Victim authenticator")


def _invitation_token(world: VictimWorld) -> str:
    from triage.models import Role
    from triage.services.invitations import invitation_create, invitation_token

    if "invitation" not in world.made:
        world.made["invitation"] = invitation_create(
            team=world.team, actor=world.owner, email="victim@example.com", role=Role.ADMIN
        )
    return invitation_token(world.made["invitation"])


def _pk(attribute: str):
    return lambda world: getattr(world, attribute).pk


# URL kwarg name → how to get the id of a real object of the victim team.
KWARG_FACTORIES = {
    "connection_id": _pk("connection"),
    "repository_id": _pk("repository"),
    "batch_id": _pk("batch"),
    "scan_batch_id": _pk("batch"),
    "finding_id": _pk("finding"),
    "fix_id": _pk("fix"),
    "campaign_id": _pk("campaign"),
    "version_id": _pk("diff_version"),
    "diff_version_id": _pk("diff_version"),
    "approval_id": _pk("approval"),
    "dismissal_id": _pk("dismissal"),
    "comment_id": _pk("review_comment"),
    "pull_request_id": _pk("pull_request"),
    "pr_id": _pk("pull_request"),
    "job_id": _pk("status_job"),
    "view_id": _pk("saved_view"),
    "run_id": _pk("sync_run"),
    # The link of a waiting invitation to the victim team (as admin).
    "token": _invitation_token,
    # The first file of the fix's diff (the victim fix has one).
    "file_index": lambda world: 0,
    "sha256": lambda world: world.diff_version.sha256,
    "diff_sha256": lambda world: world.diff_version.sha256,
    # Django admin's own URLs (staff only; object ids of the victim team's connection).
    "app_label": lambda world: "triage",
    "object_id": lambda world: str(world.connection.pk),
    "id": lambda world: str(world.owner.pk),
    "content_type_id": lambda world: _content_type_id(world.connection),
    "url": lambda world: "no-such-admin-page/",
    # django-otp's admin pages of one authenticator (its key and QR code): the victim's own.
    "pk": lambda world: world.totp_device.pk,
    # A password reset link of the victim's owner (with the invitation's token: not valid).
    "uidb64": lambda world: urlsafe_base64_encode(force_bytes(world.owner.pk)),
}
# Kwargs filled per request rather than by an object.
SPECIAL_KWARGS = {"team_slug"}


def _content_type_id(obj) -> int:
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(obj).pk


def missing_kwargs(entries: list[UrlEntry]) -> dict[str, list[str]]:
    missing: dict[str, list[str]] = {}
    for entry in entries:
        for name in entry.kwargs:
            if name not in KWARG_FACTORIES and name not in SPECIAL_KWARGS:
                missing.setdefault(name, []).append(entry.url_id)
    return missing


def url_of(entry: UrlEntry, world: VictimWorld, *, team_slug: str | None = None) -> str:
    unknown = [k for k in entry.kwargs if k not in KWARG_FACTORIES and k not in SPECIAL_KWARGS]
    if unknown and entry.category != "sandbox":
        raise LookupError(
            f"{entry.url_id}: add a factory for {unknown} to KWARG_FACTORIES in "
            "tests/security/urlmap.py"
        )
    if entry.category == "sandbox":
        # The sandbox's own ids: never a portal object (its documented exception).
        kwargs = dict.fromkeys(entry.kwargs, "00000000-0000-4000-8000-000000000000")
        return reverse(entry.name, kwargs=kwargs) if entry.name else "/sandbox/api/v1/nothing"
    kwargs = {name: KWARG_FACTORIES[name](world) for name in entry.kwargs if name != "team_slug"}
    if "team_slug" in entry.kwargs:
        kwargs["team_slug"] = team_slug or world.team.slug
    if entry.name:
        return reverse(entry.name, kwargs=kwargs)
    # Unnamed patterns (the admin's catch-all): their route with the kwargs in place.
    route = entry.route.replace("^", "").replace("$", "")
    for name, value in kwargs.items():
        route = re.sub(rf"\(\?P<{name}>[^)]*\)|<(?:\w+:)?{name}>", str(value), route)
    return "/" + route


@dataclass(frozen=True)
class WriteTarget:
    url: str
    how: str  # 'form', 'hx-post', 'formaction', ...


class _WriteTargets(HTMLParser):
    def __init__(self, page_url: str):
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.targets: list[WriteTarget] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and (attributes.get("method") or "get").lower() == "post":
            self.targets.append(WriteTarget(attributes.get("action") or self.page_url, "form"))
        for verb in ("hx-post", "hx-put", "hx-patch", "hx-delete", "data-hx-post"):
            if verb in attributes:
                self.targets.append(WriteTarget(attributes[verb] or self.page_url, verb))
        if "formaction" in attributes and tag in ("button", "input"):
            method = (attributes.get("formmethod") or "post").lower()
            if method == "post":
                self.targets.append(WriteTarget(attributes["formaction"], "formaction"))

    handle_startendtag = handle_starttag


def write_targets(body: str, page_url: str) -> list[WriteTarget]:
    parser = _WriteTargets(page_url)
    parser.feed(body)
    return parser.targets


def write_role_of(url: str):
    """The role a POST to ``url`` needs, or None when it is not a team view."""
    path = urlsplit(url).path
    try:
        match = resolve(path)
    except Resolver404:
        return None, None
    roles = getattr(match.func, "team_roles", None)
    name = f"{':'.join(match.namespaces)}:{match.url_name}" if match.namespaces else match.url_name
    return (roles["write"] if roles else None), name
