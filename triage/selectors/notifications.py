"""Reads of Settings → Notifications and its delivery log."""

from django.db.models import QuerySet

from triage.models import Delivery, NotificationChannel, NotificationRule, Team


def team_channels(*, team: Team) -> QuerySet[NotificationChannel]:
    return NotificationChannel.objects.filter(team=team).order_by("name", "id")


def channel_choices(*, team: Team) -> list[tuple[str, str]]:
    return [(str(pk), name) for pk, name in team_channels(team=team).values_list("pk", "name")]


def team_rules(*, team: Team) -> QuerySet[NotificationRule]:
    return (
        NotificationRule.objects.filter(team=team)
        .select_related("channel")
        .order_by("channel__name", "event_kind", "id")
    )


def team_deliveries(*, team: Team) -> QuerySet[Delivery]:
    """Every delivery of the team, newest first, with its event and channel."""
    return (
        Delivery.objects.filter(team=team)
        .select_related("notification", "channel")
        .order_by("-created_at", "-id")
    )


def failing_channels(*, team: Team) -> QuerySet[NotificationChannel]:
    return team_channels(team=team).filter(state=NotificationChannel.State.FAILING)
