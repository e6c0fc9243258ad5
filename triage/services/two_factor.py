"""The second step of a local sign-in: one TOTP authenticator per user and single-use recovery
codes, on django-otp's TOTP and static-token devices.

A device is unconfirmed until the user types a code from it; only a confirmed device asks for
the second step. Users who sign in through single sign-on are left to their identity provider's
multi-factor authentication. Every change is audited as a user-level event (no team).
"""

from __future__ import annotations

from base64 import b32encode

from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from triage.services.audit import audit_log

RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
SSO_BACKEND = "triage.oidc.backend.SsoBackend"

# Session keys: the second step still owed by this session, and whether its user has a
# confirmed authenticator (read by team pages that require one, without a query).
SESSION_PENDING = "portal_second_step_pending"
SESSION_ENROLLED = "portal_totp_enrolled"


class CodeRefused(Exception):
    """The code typed was not a current code of the device."""


def confirmed_authenticator(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def pending_authenticator(user) -> TOTPDevice:
    """The unconfirmed device being enrolled, made on first need (a new secret each time
    enrolment starts again after a disable)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def base32_secret(device: TOTPDevice) -> str:
    return b32encode(device.bin_key).decode()


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def _new_recovery_codes(user) -> list[str]:
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


@transaction.atomic
def confirm_authenticator(*, user, code: str) -> list[str]:
    """Activate the pending device with a code from it; answers the new recovery codes,
    which are shown once."""
    device = pending_authenticator(user)
    if not device.verify_token(code.strip()):
        raise CodeRefused
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _new_recovery_codes(user)
    audit_log(
        team=None,
        actor=user,
        action="totp.enrol",
        target=user,
        details={"recovery_codes": len(codes)},
    )
    return codes


def verify_second_step(*, user, code: str):
    """The device that accepted ``code`` (a current TOTP code, or a recovery code, which is
    used up), or None."""
    code = code.strip().replace(" ", "")
    if not code:
        return None
    device = confirmed_authenticator(user)
    if device is not None and device.verify_token(code):
        return device
    for recovery in StaticDevice.objects.filter(user=user, confirmed=True):
        if recovery.verify_token(code):  # deletes the code: it works once
            audit_log(
                team=None,
                actor=user,
                action="totp.recovery_code_used",
                target=user,
                details={"left": recovery.token_set.count()},
            )
            return recovery
    return None


@transaction.atomic
def regenerate_recovery_codes(*, user, code: str) -> list[str]:
    device = confirmed_authenticator(user)
    if device is None or not device.verify_token(code.strip()):
        raise CodeRefused
    codes = _new_recovery_codes(user)
    audit_log(team=None, actor=user, action="totp.recovery_codes_regenerated", target=user)
    return codes


@transaction.atomic
def disable_authenticator(*, user, code: str) -> None:
    """Remove the authenticator and the recovery codes; needs a current code (or a recovery
    code, for a user who lost the app)."""
    if verify_second_step(user=user, code=code) is None:
        raise CodeRefused
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    audit_log(team=None, actor=user, action="totp.disable", target=user)
