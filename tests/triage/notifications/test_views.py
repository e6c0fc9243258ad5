"""Settings → Notifications and its delivery log: admins add channels and rules, send a test
message and see the receiver's answer; refused webhook targets are refused with a message;
addresses are encrypted and never shown again; other teams get 404, lower roles 403; every
write is audited."""

import pytest
from django.db import connection as db
from django.urls import reverse

from tests.outbound_fixtures import REFUSED_ADDRESSES, ResolverStub
from triage.clients import override_resolver
from triage.models import (
    AuditEvent,
    Delivery,
    EventKind,
    NotificationChannel,
    NotificationRule,
    Role,
)
from triage.models.notifications import notification_record

pytestmark = pytest.mark.django_db


def _url(team, name="settings-notifications"):
    return reverse(name, kwargs={"team_slug": team.slug})


@pytest.fixture
def admin_client(admin_user, client_as):
    return client_as(admin_user)


def _add(client, team, **data):
    values = {"action": "channel_create", "name": "Hooks", "kind": "webhook"}
    values.update(data)
    return client.post(_url(team), values)


def test_an_admin_adds_a_signed_webhook_sends_a_test_and_sees_the_answer(
    team, admin_client, http_receiver
):
    http_receiver.answer((202, {}, b'{"accepted": true}'))
    response = _add(admin_client, team, url=http_receiver.url, secret="x" * 20)
    assert response.status_code == 302, response.content.decode()
    channel = NotificationChannel.objects.get(team=team)

    response = admin_client.post(
        _url(team), {"action": "channel_test", "channel": channel.pk}, follow=True
    )
    page = response.content.decode()
    assert (
        "Test message delivered. The receiver answered HTTP 202: {&quot;accepted&quot;: true}"
        in page
    )
    (request,) = http_receiver.requests
    assert request.path == "/hooks/portal"
    assert request.headers["x-portal-event"] == "test"
    # The address is shown by its host and last characters only, and stored encrypted.
    assert http_receiver.url not in page
    assert f"127.0.0.1 …{http_receiver.url[-4:]}" in page
    with db.cursor() as cursor:
        cursor.execute("SELECT url, secret FROM triage_notificationchannel")
        stored_url, stored_secret = cursor.fetchone()
    assert "127.0.0.1" not in stored_url and "x" * 20 not in stored_secret
    actions = set(AuditEvent.objects.filter(team=team).values_list("action", flat=True))
    assert {"notification_channel.create", "notification_channel.test"} <= actions


def test_a_test_message_to_a_failing_receiver_says_what_it_answered(
    team, admin_client, http_receiver
):
    http_receiver.answer((500, {}, b"boom"))
    _add(admin_client, team, kind="slack", url=http_receiver.url)
    channel = NotificationChannel.objects.get(team=team)
    page = admin_client.post(
        _url(team), {"action": "channel_test", "channel": channel.pk}, follow=True
    ).content.decode()
    assert "The test message was not delivered: The receiver answered HTTP 500." in page


def test_a_webhook_needs_a_long_enough_secret(team, admin_client, http_receiver):
    response = _add(admin_client, team, url=http_receiver.url, secret="short")
    assert response.status_code == 400
    assert "A signing secret needs at least 16 characters." in response.content.decode()
    assert not NotificationChannel.objects.exists()


def test_an_email_channel_needs_no_address(team, admin_client):
    response = _add(admin_client, team, kind="email", name="Members")
    assert response.status_code == 302
    assert NotificationChannel.objects.get().kind == "email"


@pytest.fixture
def network(settings, loopback_only):
    """Requests go over the guarded network to any name; loopback is refused too."""
    settings.PORTAL_OUTBOUND_ALLOWED_NETWORKS = []
    return loopback_only


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_a_name_resolving_inside_is_refused_at_save_time(address, team, admin_client, network):
    with override_resolver(ResolverStub([address])):
        response = _add(admin_client, team, kind="teams", url="https://hooks.example.test/x?sig=1")
    assert response.status_code == 400
    assert "Could not reach the address." in response.content.decode()
    assert not NotificationChannel.objects.exists()
    assert network.blocked == [] and network.lookups == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://hooks.example.test/x", "The address must start with https://."),
        ("https://user:pw@hooks.example.test/x", "must not contain a user name or password"),
        ("https://127.0.0.1/x", "does not connect to private, internal or reserved addresses"),
        ("https://169.254.169.254/latest", "does not connect to private, internal or reserved"),
        ("https://[::1]/x", "does not connect to private, internal or reserved addresses"),
        ("https://10.1.2.3/x", "does not connect to private, internal or reserved addresses"),
        ("https://hooks.example.test/x#frag", "must not contain a fragment"),
        ("ftp://hooks.example.test/x", "The address must start with https://."),
    ],
)
def test_refused_targets_get_a_clear_message(url, message, team, admin_client, network, settings):
    settings.PORTAL_OUTBOUND_ALLOW_HTTP = False
    with override_resolver(ResolverStub(["93.184.216.34"])):
        response = _add(admin_client, team, kind="slack", url=url)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not NotificationChannel.objects.exists()
    assert network.connects == []


def test_an_operator_may_allow_an_internal_range(team, admin_client, network, settings):
    settings.PORTAL_OUTBOUND_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    with override_resolver(ResolverStub(["10.20.0.7"])):
        response = _add(admin_client, team, kind="slack", url="https://chat.internal.test/hook")
    assert response.status_code == 302
    assert NotificationChannel.objects.get().url_hint == "chat.internal.test …hook"


def test_a_name_turning_internal_after_saving_is_refused_when_sending(team, channel_of, network):
    with override_resolver(ResolverStub(["93.184.216.34"])):
        channel = NotificationChannel.objects.create(
            team=team, name="Later", kind="slack", url="https://hooks.example.test/x"
        )
    NotificationRule.objects.create(team=team, channel=channel, event_kind=EventKind.SCAN_FAILED)
    notification_record(team_id=team.pk, event_kind=EventKind.SCAN_FAILED, dedupe_key="k", data={})
    from triage.services.notifications import delivery_attempt

    with override_resolver(ResolverStub(["169.254.169.254"])):
        delivery_attempt(delivery_id=Delivery.objects.get().pk)
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.RETRYING
    assert delivery.error == "Could not reach the address."
    assert network.connects == []


def test_rules_are_added_and_deleted_with_an_audit_entry(team, admin_client, channel_of):
    channel = channel_of("email", events=[])
    response = admin_client.post(
        _url(team),
        {
            "action": "rule_create",
            "channel": channel.pk,
            "event_kind": EventKind.FINDINGS_NEW,
            "min_severity": "high",
        },
    )
    assert response.status_code == 302
    rule = NotificationRule.objects.get(channel=channel)
    assert rule.min_severity == "high"
    page = admin_client.get(_url(team)).content.decode()
    assert "New findings from a sync" in page and "High" in page
    admin_client.post(_url(team), {"action": "rule_delete", "rule": rule.pk})
    assert not NotificationRule.objects.exists()
    admin_client.post(_url(team), {"action": "channel_delete", "channel": channel.pk})
    assert not NotificationChannel.objects.exists()
    actions = list(AuditEvent.objects.filter(team=team).values_list("action", flat=True))
    for action in (
        "notification_rule.create",
        "notification_rule.delete",
        "notification_channel.delete",
    ):
        assert action in actions
    audit = admin_client.get(_url(team, "settings-audit")).content.decode()
    assert "Notification rule added" in audit
    assert "findings.new → email channel, high or worse" in audit


@pytest.fixture
def victims(other_team, member, http_receiver):
    """Another team's channel, rule and delivery."""
    channel = NotificationChannel.objects.create(
        team=other_team,
        name="Victim hooks",
        kind="slack",
        url=http_receiver.url,
        url_hint="victim-hint",
    )
    rule = NotificationRule.objects.create(
        team=other_team, channel=channel, event_kind=EventKind.SCAN_FINISHED
    )
    notification_record(
        team_id=other_team.pk, event_kind=EventKind.SCAN_FINISHED, dedupe_key="v", data={}
    )
    return channel, rule, Delivery.objects.get(team=other_team)


def test_another_teams_channels_rules_and_deliveries_answer_404(
    team, admin_client, victims, other_team, http_receiver
):
    channel, rule, delivery = victims
    for data in (
        {"action": "channel_test", "channel": channel.pk},
        {"action": "channel_delete", "channel": channel.pk},
        {"action": "rule_delete", "rule": rule.pk},
    ):
        response = admin_client.post(_url(team), data, follow=True)
        assert "No such" in response.content.decode()
    response = admin_client.post(
        _url(team, "settings-notification-log"),
        {"action": "redeliver", "delivery": delivery.pk},
        follow=True,
    )
    assert "No such delivery." in response.content.decode()
    response = admin_client.post(
        _url(team), {"action": "rule_create", "channel": channel.pk, "event_kind": "scan.failed"}
    )
    assert response.status_code == 400
    # Their pages are not ours to see at all.
    assert admin_client.get(_url(other_team)).status_code == 404
    assert admin_client.get(_url(other_team, "settings-notification-log")).status_code == 404
    assert "victim-hint" not in admin_client.get(_url(team)).content.decode()
    assert (
        "Victim hooks"
        not in admin_client.get(_url(team, "settings-notification-log")).content.decode()
    )
    assert NotificationChannel.objects.filter(pk=channel.pk).exists()
    assert NotificationRule.objects.filter(pk=rule.pk).exists()
    assert http_receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.attempts == 0


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TRIAGER, Role.APPROVER])
def test_below_admin_cannot_see_or_change_anything(role, team, member, client_as, channel_of):
    channel = channel_of("email", events=[EventKind.SCAN_FINISHED])
    client = client_as(member(role))
    assert client.get(_url(team)).status_code == 403
    assert client.get(_url(team, "settings-notification-log")).status_code == 403
    response = client.post(_url(team), {"action": "channel_delete", "channel": channel.pk})
    assert response.status_code == 403
    assert NotificationChannel.objects.filter(pk=channel.pk).exists()


def test_the_delivery_log_reads_a_bounded_number_of_queries(
    team, admin_client, channel_of, django_assert_max_num_queries
):
    channel_of("email")
    for index in range(60):
        notification_record(
            team_id=team.pk, event_kind=EventKind.SCAN_FINISHED, dedupe_key=f"k{index}", data={}
        )
    with django_assert_max_num_queries(15):
        response = admin_client.get(_url(team, "settings-notification-log"))
    assert response.status_code == 200
    assert response.content.decode().count('id="delivery-') == 50
    with django_assert_max_num_queries(15):
        assert admin_client.get(_url(team)).status_code == 200


def test_a_test_message_by_email_reaches_the_members(team, admin_client, smtp_server):
    _add(admin_client, team, kind="email", name="Members")
    channel = NotificationChannel.objects.get(team=team)
    page = admin_client.post(
        _url(team), {"action": "channel_test", "channel": channel.pk}, follow=True
    ).content.decode()
    assert "Test message delivered. Sent to 1 member." in page
    (mail,) = smtp_server.wait_for(1)
    assert mail["Subject"] == "[Blue Team] Test message from the Triage Portal (Blue Team)"
