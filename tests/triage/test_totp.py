"""An authenticator app (TOTP) and recovery codes for local accounts: enrolment, the second
step of sign-in, single-use recovery codes, wrong codes slowed like wrong passwords, audit."""

import time

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.factories import TEST_PASSWORD, MembershipFactory, UserFactory
from triage import sign_in
from triage.models import AuditEvent, Role
from triage.services import two_factor


def code_of(device, *, steps_ahead=0):
    """A current code computed from the device's secret, as an authenticator app would."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return totp.token() and f"{totp.token():0{device.digits}d}"


@pytest.fixture(autouse=True)
def _fresh_counters():
    keys = [sign_in._key(name) for name in ("alice", "bob")]
    cache.delete_many(keys)
    yield
    cache.delete_many(keys)


def _sign_in(client, username="alice", next_url=None):
    url = reverse("login") + (f"?next={next_url}" if next_url else "")
    return client.post(url, {"username": username, "password": TEST_PASSWORD})


def enrolled(user):
    """Enrol ``user`` through the page; answers (the device, the recovery codes)."""
    client = Client()
    client.force_login(user)
    client.get(reverse("two-factor"))
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    page = client.post(reverse("two-factor"), {"action": "confirm", "code": code_of(device)})
    assert page.status_code == 200
    device.refresh_from_db()
    return device, page.context["recovery_codes"]


def test_enrolment_shows_the_key_and_confirms_with_a_real_code(db):
    user = UserFactory(username="alice")
    client = Client()
    client.force_login(user)
    page = client.get(reverse("two-factor"))
    device = TOTPDevice.objects.get(user=user)
    body = page.content.decode()
    assert not device.confirmed
    assert two_factor.base32_secret(device) in body
    assert "otpauth://totp/" in body

    wrong = client.post(reverse("two-factor"), {"action": "confirm", "code": "000000"})
    assert "That code is not right" in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed

    done = client.post(reverse("two-factor"), {"action": "confirm", "code": code_of(device)})
    device.refresh_from_db()
    assert device.confirmed
    codes = done.context["recovery_codes"]
    assert len(codes) == two_factor.RECOVERY_CODE_COUNT
    assert all(code in done.content.decode() for code in codes)
    # Shown once: the next visit shows how many are left, not the codes.
    again = client.get(reverse("two-factor")).content.decode()
    assert codes[0] not in again and "Recovery codes left: 10" in again
    event = AuditEvent.objects.get(action="totp.enrol")
    assert event.team is None and event.actor == user


def test_the_password_alone_opens_no_page(db):
    user = UserFactory(username="alice")
    device, _ = enrolled(user)
    client = Client()
    response = _sign_in(client, next_url="/account/preferences/")
    assert response.status_code == 302
    for url in (reverse("home"), reverse("preferences"), reverse("two-factor")):
        page = client.get(url)
        assert page.status_code == 302 and page["Location"].startswith(reverse("second-step"))
    fragment = client.get(reverse("home"), headers={"HX-Request": "true"})
    assert fragment.status_code == 401

    wrong = client.post(reverse("second-step"), {"code": "123456"})
    assert "That code is not right" in wrong.content.decode()
    assert client.get(reverse("home")).status_code == 302

    ok = client.post(
        reverse("second-step"),
        {"code": code_of(device, steps_ahead=1), "next": "/account/preferences/"},
    )
    assert ok.status_code == 302 and ok["Location"] == "/account/preferences/"
    assert client.get(reverse("preferences")).status_code == 200


def test_a_user_without_a_device_signs_in_with_the_password(db):
    UserFactory(username="bob")
    client = Client()
    _sign_in(client, "bob")
    assert client.get(reverse("preferences")).status_code == 200


def test_a_recovery_code_works_once(db):
    user = UserFactory(username="alice")
    _, codes = enrolled(user)
    first = Client()
    _sign_in(first)
    ok = first.post(reverse("second-step"), {"code": codes[0]})
    assert ok.status_code == 302
    assert first.get(reverse("preferences")).status_code == 200
    assert StaticToken.objects.filter(device__user=user).count() == 9
    assert AuditEvent.objects.filter(action="totp.recovery_code_used", team=None).exists()

    second = Client()
    _sign_in(second)
    again = second.post(reverse("second-step"), {"code": codes[0]})
    assert again.status_code == 200 and "That code is not right" in again.content.decode()
    assert second.get(reverse("preferences")).status_code == 302


def test_wrong_codes_count_toward_the_account_slowdown(db, settings):
    settings.PORTAL_SIGN_IN_SLOWDOWN_AFTER = 2
    user = UserFactory(username="alice")
    device, _ = enrolled(user)
    client = Client()
    _sign_in(client)
    for _ in range(3):
        client.post(reverse("second-step"), {"code": "000000"})
    assert sign_in.sign_in_wait_seconds("alice") > 0
    # While the account waits even a right code is not tried.
    waiting = client.post(reverse("second-step"), {"code": code_of(device, steps_ahead=1)})
    assert waiting.status_code == 429
    assert "Try again in" in waiting.content.decode()


def test_regenerate_and_disable_need_a_current_code(db):
    user = UserFactory(username="alice")
    device, codes = enrolled(user)
    client = Client()
    client.force_login(user)
    client.post(reverse("second-step"), {"code": codes[1]})

    refused = client.post(reverse("two-factor"), {"action": "regenerate", "code": "111111"})
    assert "That code is not right" in refused.content.decode()
    made = client.post(
        reverse("two-factor"), {"action": "regenerate", "code": code_of(device, steps_ahead=1)}
    )
    new_codes = made.context["recovery_codes"]
    assert len(new_codes) == 10 and codes[2] not in new_codes
    assert not StaticToken.objects.filter(token=codes[2]).exists()

    refused = client.post(reverse("two-factor"), {"action": "disable", "code": "222222"})
    assert TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    client.post(reverse("two-factor"), {"action": "disable", "code": new_codes[0]})
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticToken.objects.filter(device__user=user).exists()
    actions = set(AuditEvent.objects.filter(team=None).values_list("action", flat=True))
    assert {"totp.enrol", "totp.recovery_codes_regenerated", "totp.disable"} <= actions

    # Signing in again needs only the password.
    fresh = Client()
    _sign_in(fresh)
    assert fresh.get(reverse("preferences")).status_code == 200


def test_bad_input_gets_a_clear_message(db):
    user = UserFactory(username="alice")
    client = Client()
    client.force_login(user)
    page = client.post(reverse("two-factor"), {"action": "confirm", "code": "<b>1</b>"})
    assert "only letters and digits" in page.content.decode()
    page = client.post(reverse("two-factor"), {"action": "explode", "code": "123456"})
    assert "Unknown action" in page.content.decode()


def test_a_single_sign_on_session_is_exempt(db, member):
    user = member(Role.VIEWER)
    client = Client()
    client.force_login(user, backend=two_factor.SSO_BACKEND)
    page = client.get(reverse("two-factor")).content.decode()
    assert "identity provider" in page and "otpauth://" not in page
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_an_admin_requires_an_authenticator_for_the_team(db, team, member, client_as):
    admin = member(Role.ADMIN)
    client = client_as(admin)
    policies = reverse("settings-policies", kwargs={"team_slug": team.slug})
    assert "Members need an authenticator app" in client.get(policies).content.decode()
    saved = client.post(policies, {"action": "sign_in", "require_totp": "on"})
    assert saved.status_code == 302
    team.refresh_from_db()
    assert team.require_totp
    event = AuditEvent.objects.get(action="sign_in_policy.update")
    assert event.team == team and event.details["require_totp"] is True


def test_a_viewer_cannot_change_the_sign_in_policy(db, team, member, client_as):
    client = client_as(member(Role.VIEWER))
    policies = reverse("settings-policies", kwargs={"team_slug": team.slug})
    assert client.post(policies, {"action": "sign_in", "require_totp": "on"}).status_code == 403
    team.refresh_from_db()
    assert not team.require_totp


def test_a_required_team_sends_a_member_to_enrolment_until_enrolled(db, team, other_team, member):
    team.require_totp = True
    team.save()
    user = member(Role.TRIAGER, username="alice")
    MembershipFactory(team=other_team, user=user, role=Role.VIEWER)
    client = Client()
    _sign_in(client)
    dashboard = reverse("dashboard", kwargs={"team_slug": team.slug})
    findings = reverse("findings", kwargs={"team_slug": team.slug})
    for url in (dashboard, findings):
        page = client.get(url)
        assert page.status_code == 302
        assert page["Location"] == f"{reverse('two-factor')}?team={team.slug}"
    assert client.get(findings, headers={"HX-Request": "true"}).status_code == 401
    # A team without the requirement opens as before.
    other = reverse("dashboard", kwargs={"team_slug": other_team.slug})
    assert client.get(other).status_code == 200

    enrolment = client.get(page["Location"]).content.decode()
    assert "Blue Team" in enrolment and "requires an authenticator app" in enrolment
    device = TOTPDevice.objects.get(user=user)
    client.post(reverse("two-factor"), {"action": "confirm", "code": code_of(device)})
    assert client.get(dashboard).status_code == 200


def test_a_single_sign_on_member_of_a_required_team_is_exempt(db, team, member):
    team.require_totp = True
    team.save()
    user = member(Role.VIEWER)
    client = Client()
    client.force_login(user, backend=two_factor.SSO_BACKEND)
    assert client.get(reverse("dashboard", kwargs={"team_slug": team.slug})).status_code == 200
    policies = reverse("settings-policies", kwargs={"team_slug": team.slug})
    assert "single sign-on are exempt" in client.get(policies).content.decode()


def test_a_team_slug_of_another_team_names_nothing_on_the_enrolment_page(
    db, team, other_team, member, client_as
):
    other_team.require_totp = True
    other_team.save()
    page = client_as(member(Role.VIEWER)).get(f"{reverse('two-factor')}?team={other_team.slug}")
    assert other_team.name not in page.content.decode()
