"""A rule's filters besides the minimum severity: repositories, scan type and owner, and
the days and threshold of the calendar and quota events. Summaries count only what a rule's
filters keep; a minimum severity applies only to events about findings; the rules form
refuses filters an event does not carry and another team's repositories and squads."""

import datetime
from collections import Counter

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import FindingFactory, RepositoryFactory, ScanBatchFactory
from tests.triage.notifications.conftest import deliver_pending, receiver_bodies
from triage.models import (
    AuditEvent,
    Delivery,
    EventKind,
    Finding,
    Notification,
    NotificationRule,
    Role,
    Squad,
)
from triage.services import notifications as services
from triage.services.notification_schedule import scheduled_events_record
from triage.sync import sync_connection_full
from triage.sync.notifications import findings_new_summary, scan_batch_settled

pytestmark = pytest.mark.django_db


def _url(team):
    return reverse("settings-notifications", kwargs={"team_slug": team.slug})


@pytest.fixture
def admin_client(admin_user, client_as):
    return client_as(admin_user)


@pytest.fixture
def repos(team):
    return RepositoryFactory(team=team, name="api"), RepositoryFactory(team=team, name="web")


@pytest.fixture
def squad(team):
    return Squad.objects.create(team=team, name="payments")


def _rule(team, admin_user, channel, event_kind, **filters):
    return services.rule_create(
        team=team, actor=admin_user, channel_id=channel.pk, event_kind=event_kind, **filters
    )


def test_a_syncs_summary_for_a_repository_counts_only_its_new_findings(
    team, connection, admin_user, channel_of, http_receiver
):
    assert sync_connection_full(connection=connection).status == "succeeded"
    by_repository = Counter(Finding.objects.values_list("repository__name", flat=True))
    name, count = by_repository.most_common()[-1]
    repository = Finding.objects.filter(repository__name=name).first().repository
    everything = channel_of("webhook", events=[EventKind.FINDINGS_NEW])
    one_repository = channel_of("slack", events=[])
    _rule(team, admin_user, one_repository, EventKind.FINDINGS_NEW, repository_ids=[repository.pk])
    # The mirror forgets its findings: the next sync brings them all as new again.
    Finding.objects.all().delete()
    Notification.objects.all().delete()

    run = sync_connection_full(connection=connection)
    sync_connection_full(connection=connection)  # nothing new: nothing more

    unfiltered = Notification.objects.get(dedupe_key=f"sync-run:{run.pk}:findings-new")
    filtered = Notification.objects.exclude(pk=unfiltered.pk).get()
    assert unfiltered.data["total"] == sum(by_repository.values())
    assert filtered.data["total"] == count
    assert filtered.dedupe_key == f"sync-run:{run.pk}:findings-new:repo={repository.pk}"
    assert list(filtered.deliveries.values_list("channel", flat=True)) == [one_repository.pk]
    assert list(unfiltered.deliveries.values_list("channel", flat=True)) == [everything.pk]
    assert sorted(deliver_pending()) == ["delivered", "delivered"]
    slack = next(body for body in receiver_bodies(http_receiver) if "blocks" in body)
    assert slack["text"].startswith(f"{count} new finding")
    assert f"(repository {name})" in slack["text"]
    assert f"repository={repository.pk}" in slack["blocks"][-1]["elements"][0]["url"]


def _summarise(team, run_pk, findings):
    """The summary of a sync run that brought `findings`."""
    findings_new_summary(
        team_id=team.pk,
        run_pk=run_pk,
        connection_name="Acme",
        by_severity=Counter(finding.severity for finding in findings),
        since_date="2026-01-01",
        finding_pks=[finding.pk for finding in findings],
    )


def test_summary_filters_on_scan_type_and_owner(team, repos, squad, admin_user, channel_of):
    api, web = repos
    owned = [
        FindingFactory(repository=api, severity="high", owner_squad=squad, scan_type="secrets_scan")
        for _ in range(2)
    ]
    others = [
        FindingFactory(repository=web, severity="critical", scan_type="secrets_scan"),
        FindingFactory(repository=api, severity="critical", owner_squad=squad),
    ]
    channel = channel_of("webhook", events=[])
    _rule(
        team,
        admin_user,
        channel,
        EventKind.FINDINGS_NEW,
        scan_type="secrets_scan",
        owner_squad_id=squad.pk,
    )
    _summarise(team, 7, owned + others)
    notification = Notification.objects.get()
    assert notification.data["by_severity"] == {"high": 2}
    assert notification.data["filters"]["owner"] == "@payments"
    assert notification.severity == "high"


def test_a_minimum_severity_applies_to_the_filtered_contents(team, repos, admin_user, channel_of):
    api, web = repos
    findings = [FindingFactory(repository=api, severity="low")]
    findings += [FindingFactory(repository=web, severity="critical")]
    _rule(
        team,
        admin_user,
        channel_of("webhook", events=[]),
        EventKind.FINDINGS_NEW,
        min_severity="critical",
        repository_ids=[api.pk],
    )
    _summarise(team, 8, findings)
    # The critical finding is not in the rule's repository: nothing for it.
    assert not Notification.objects.exists()


def test_scan_events_match_repository_and_scan_type(team, repos, admin_user, channel_of):
    api, web = repos
    channel = channel_of("webhook", events=[])
    _rule(
        team,
        admin_user,
        channel,
        EventKind.SCAN_FINISHED,
        repository_ids=[api.pk],
        scan_type="semgrep_scan",
    )
    for repository, scan_type in ((web, "semgrep_scan"), (api, "secrets_scan")):
        batch = ScanBatchFactory(repository=repository, scan_type=scan_type)
        scan_batch_settled(batch=batch, previous_status="running")
    assert not Notification.objects.exists()
    batch = ScanBatchFactory(repository=api, scan_type="semgrep_scan")
    scan_batch_settled(batch=batch, previous_status="running")
    assert Notification.objects.get().data["scan_batch"]["pk"] == batch.pk


def test_a_minimum_severity_does_not_hold_back_events_without_one(team, repos, channel_of):
    """A rule stored with a minimum severity for scans (the form refuses one now) still gets
    them: severity filters apply only to events about findings."""
    channel = channel_of("webhook", events=[])
    NotificationRule.objects.create(
        team=team, channel=channel, event_kind=EventKind.SCAN_FAILED, min_severity="critical"
    )
    batch = ScanBatchFactory(repository=repos[0], status="failed")
    scan_batch_settled(batch=batch, previous_status="running")
    assert Notification.objects.get().event_kind == EventKind.SCAN_FAILED


def test_sla_summaries_follow_each_rules_filters_and_days(
    team, repos, squad, admin_user, channel_of
):
    api, web = repos
    now = timezone.now()

    def detected(repository, severity, days_ago, **values):
        return FindingFactory(
            repository=repository,
            severity=severity,
            first_detected_at=now - datetime.timedelta(days=days_ago),
            **values,
        )

    detected(api, "critical", 10, owner_squad=squad)  # past
    detected(web, "critical", 10)  # past
    detected(web, "high", 40)  # past
    detected(api, "high", 25, owner_squad=squad)  # due in 5 days
    everything = channel_of("webhook", events=[EventKind.SLA_BREACHED])
    theirs = channel_of("slack", events=[])
    _rule(team, admin_user, theirs, EventKind.SLA_BREACHED, owner_squad_id=squad.pk)
    week = channel_of("teams", events=[])
    _rule(team, admin_user, week, EventKind.SLA_DUE_SOON, days=7, min_severity="high")
    _rule(team, admin_user, theirs, EventKind.SLA_DUE_SOON)  # 3 days: nothing due

    assert scheduled_events_record(now=now) == 3
    totals = {
        delivery.channel_id: delivery.notification.data["total"]
        for delivery in Delivery.objects.select_related("notification")
    }
    assert totals == {everything.pk: 3, theirs.pk: 1, week.pk: 1}
    mine = Notification.objects.get(deliveries__channel=theirs)
    assert mine.dedupe_key.endswith(f":squad={squad.pk}")
    assert scheduled_events_record(now=now) == 0


# The rules form


def _post_rule(client, team, channel, **data):
    values = {"action": "rule_create", "channel": channel.pk}
    values.update(data)
    return client.post(_url(team), values)


def test_a_rule_with_filters_is_saved_shown_and_audited(
    team, repos, squad, admin_client, channel_of
):
    channel = channel_of("email", events=[])
    response = _post_rule(
        admin_client,
        team,
        channel,
        event_kind=EventKind.SLA_DUE_SOON,
        repositories=[repos[0].pk, repos[1].pk],
        scan_type="semgrep_scan",
        owner=f"squad:{squad.pk}",
        days="5",
    )
    assert response.status_code == 302, response.content.decode()
    rule = NotificationRule.objects.get()
    assert set(rule.repositories.all()) == set(repos)
    assert (rule.scan_type, rule.owner_squad, rule.days) == ("semgrep_scan", squad, 5)
    page = admin_client.get(_url(team)).content.decode()
    assert "api, web · Code (SAST) · @payments · within 5 days" in page
    audit = AuditEvent.objects.get(action="notification_rule.create")
    assert audit.details["repositories"] == ["api", "web"]
    assert audit.details["owner"] == "@payments" and audit.details["days"] == 5


NOT_CARRIED = "“{}” events cannot be filtered this way."
REFUSED_FILTERS = [
    (EventKind.SCAN_FAILED, "min_severity", "high", NOT_CARRIED.format("Scan batch failed")),
    (
        EventKind.KEY_REJECTED,
        "scan_type",
        "semgrep_scan",
        NOT_CARRIED.format("Connection key rejected"),
    ),
    (EventKind.SCAN_FINISHED, "days", "4", NOT_CARRIED.format("Scan batch finished")),
    (EventKind.SLA_DUE_SOON, "days", "0", "Ensure this value is greater than or equal to 1."),
    (
        EventKind.QUOTA_LOW,
        "threshold_percent",
        "100",
        "Ensure this value is less than or equal to 99.",
    ),
    (EventKind.FIX_READY, "threshold_percent", "20", "Only for “Quota below a threshold”."),
]


@pytest.mark.parametrize(("event_kind", "field", "value", "message"), REFUSED_FILTERS)
def test_a_filter_the_event_does_not_carry_is_refused_and_nothing_saved(
    event_kind, field, value, message, team, admin_client, channel_of
):
    channel = channel_of("email", events=[])
    response = _post_rule(admin_client, team, channel, event_kind=event_kind, **{field: value})
    assert response.status_code == 400
    form = response.context["rule_form"]
    assert form.errors[field] == [message]
    assert "Nothing was saved." in response.content.decode()
    assert not NotificationRule.objects.exists()
    assert not AuditEvent.objects.filter(action="notification_rule.create").exists()


def test_another_teams_repositories_squads_and_members_are_refused(
    team, other_team, member, admin_client, channel_of
):
    channel = channel_of("email", events=[])
    theirs = RepositoryFactory(team=other_team, name="secret-repo")
    their_squad = Squad.objects.create(team=other_team, name="their-squad")
    member(Role.TRIAGER, of=other_team, username="outsider")
    from triage.models import Membership

    their_membership = Membership.objects.get(user__username="outsider")
    for data in (
        {"repositories": [theirs.pk]},
        {"owner": f"squad:{their_squad.pk}"},
        {"owner": f"member:{their_membership.pk}"},
    ):
        response = _post_rule(
            admin_client, team, channel, event_kind=EventKind.FINDINGS_NEW, **data
        )
        assert response.status_code == 400, data
        assert "secret-repo" not in response.content.decode()
    assert not NotificationRule.objects.exists()
    # The service refuses them too, whatever the form offered.
    for filters, message in (
        ({"repository_ids": [theirs.pk]}, "No such repository."),
        ({"owner_squad_id": their_squad.pk}, "No such squad."),
        ({"owner_membership_id": their_membership.pk}, "No such member."),
    ):
        with pytest.raises(services.ServiceError, match=message):
            services.rule_create(
                team=team,
                actor=member(Role.ADMIN),
                channel_id=channel.pk,
                event_kind=EventKind.FINDINGS_NEW,
                **filters,
            )


def test_the_rules_table_reads_a_bounded_number_of_queries(
    team, repos, squad, admin_user, admin_client, django_assert_max_num_queries
):
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    def rules_added(numbers):
        for n in numbers:
            channel = services.channel_create(
                team=team, actor=admin_user, name=f"mail {n}", kind="email"
            )
            _rule(
                team,
                admin_user,
                channel,
                EventKind.FINDINGS_NEW,
                repository_ids=[repo.pk for repo in repos],
                owner_squad_id=squad.pk,
            )

    rules_added([0])
    with CaptureQueriesContext(db) as one_rule:
        admin_client.get(_url(team))
    rules_added(range(1, 12))
    with django_assert_max_num_queries(len(one_rule.captured_queries)):
        response = admin_client.get(_url(team))
    assert response.content.decode().count("api, web · @payments") == 12
