"""Reads of Settings → Notifications and its delivery log."""

from django.db.models import QuerySet

from triage.models import Delivery, NotificationChannel, NotificationRule, Repository, Team
from triage.models.mirror import ScanType, label_of
from triage.models.notifications import RULE_FILTERS_OF_KIND


def team_channels(*, team: Team) -> QuerySet[NotificationChannel]:
    return NotificationChannel.objects.filter(team=team).order_by("name", "id")


def channel_choices(*, team: Team) -> list[tuple[str, str]]:
    return [(str(pk), name) for pk, name in team_channels(team=team).values_list("pk", "name")]


def team_rules(*, team: Team) -> QuerySet[NotificationRule]:
    return (
        NotificationRule.objects.filter(team=team)
        .select_related("channel", "owner_squad", "owner_member")
        .prefetch_related("repositories")
        .order_by("channel__name", "event_kind", "id")
    )


def rule_repository_choices(*, team: Team) -> list[tuple[str, str]]:
    """The team's mirrored repositories a rule may be restricted to."""
    return [
        (str(pk), name)
        for pk, name in Repository.objects.filter(team=team)
        .order_by("name", "id")
        .values_list("pk", "name")
    ]


def team_deliveries(*, team: Team) -> QuerySet[Delivery]:
    """Every delivery of the team, newest first, with its event and channel."""
    return (
        Delivery.objects.filter(team=team)
        .select_related("notification", "channel")
        .order_by("-created_at", "-id")
    )


def failing_channels(*, team: Team) -> QuerySet[NotificationChannel]:
    return team_channels(team=team).filter(state=NotificationChannel.State.FAILING)


def rule_filters_text(rule: NotificationRule) -> str:
    """A rule's filters in words for the rules table ("api, web · Secrets · @ops · 3 days")."""
    applies = RULE_FILTERS_OF_KIND.get(rule.event_kind, frozenset())
    parts = []
    names = [repository.name for repository in rule.repositories.all()]
    if names:
        parts.append(", ".join(sorted(names)))
    if rule.scan_type:
        parts.append(label_of(ScanType, rule.scan_type))
    if rule.owner_squad_id:
        parts.append(f"@{rule.owner_squad.name}")
    if rule.owner_member_id:
        parts.append(f"@{rule.owner_member.get_username()}")
    if "days" in applies:
        parts.append(f"within {rule.days} day{'s' if rule.days != 1 else ''}")
    if "threshold_percent" in applies:
        parts.append(f"below {rule.threshold_percent} %")
    return " · ".join(parts)


def team_rules_shown(*, team: Team) -> list[NotificationRule]:
    """The rules table: each rule with `filters_text`, in a fixed number of queries."""
    rules = list(team_rules(team=team))
    for rule in rules:
        rule.filters_text = rule_filters_text(rule)
    return rules
