"""The second step of a local sign-in and the enrolment of an authenticator app under the
user's preferences."""

from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.signals import user_login_failed
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login

from triage.forms.sign_in import OneTimeCodeForm
from triage.models import Membership
from triage.permissions import signed_in_by_sso
from triage.services import two_factor
from triage.sign_in import sign_in_wait_seconds

WRONG_CODE = "That code is not right. Check the time on your phone, or use a recovery code."


def _safe_next(request) -> str:
    target = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/"


def _count_wrong_code(request) -> None:
    """A wrong code counts like a wrong password: towards the account's slowdown and lockout."""
    user_login_failed.send(
        sender=__name__,
        credentials={"username": request.user.get_username()},
        request=request,
    )


@never_cache
def second_step(request):
    if not request.session.get(two_factor.SESSION_PENDING):
        return redirect(_safe_next(request))
    form = OneTimeCodeForm(request.POST if request.method == "POST" else None)
    wait = 0
    if request.method == "POST":
        wait = sign_in_wait_seconds(request.user.get_username())
        if wait:
            form.is_valid()
            form.add_error(None, f"Too many wrong codes. Try again in {wait} seconds.")
        elif form.is_valid():
            device = two_factor.verify_second_step(
                user=request.user, code=form.cleaned_data["code"]
            )
            if device is not None:
                otp_login(request, device)
                request.session.pop(two_factor.SESSION_PENDING, None)
                request.session.cycle_key()
                return redirect(_safe_next(request))
            _count_wrong_code(request)
            form.add_error("code", WRONG_CODE)
        else:
            _count_wrong_code(request)
    return render(
        request,
        "registration/second_step.html",
        {"form": form, "next": _safe_next(request)},
        status=429 if wait else 200,
    )


def _team_requiring_totp(request):
    """The team that sent the user here (``?team=<slug>``), if they are in it and it does."""
    slug = request.GET.get("team", "")
    if not slug:
        return None
    membership = (
        Membership.objects.select_related("team")
        .filter(user=request.user, team__slug=slug, team__require_totp=True)
        .first()
    )
    return membership.team if membership else None


@never_cache
def enrolment(request):
    """Enrol an authenticator app, see recovery codes once, make new ones, or disable it."""
    user = request.user
    by_sso = signed_in_by_sso(request)
    device = None if by_sso else two_factor.confirmed_authenticator(user)
    # One form per button, each with its own field ids; the one sent is bound.
    action = request.POST.get("action", "") if request.method == "POST" else ""
    forms = {
        name: OneTimeCodeForm(request.POST if name == action else None, auto_id=f"{name}_%s")
        for name in ("confirm", "regenerate", "disable")
    }
    form = forms.get(action) or OneTimeCodeForm(request.POST or {}, auto_id="confirm_%s")
    recovery_codes = None
    if request.method == "POST" and not by_sso:
        if action not in {"confirm", "regenerate", "disable"}:
            form.is_valid()
            form.add_error(None, "Unknown action.")
        elif form.is_valid():
            code = form.cleaned_data["code"]
            try:
                if action == "confirm" and device is None:
                    recovery_codes = two_factor.confirm_authenticator(user=user, code=code)
                    otp_login(request, two_factor.confirmed_authenticator(user))
                    request.session[two_factor.SESSION_ENROLLED] = True
                    messages.success(request, "Authenticator app enrolled.")
                elif action == "regenerate" and device is not None:
                    recovery_codes = two_factor.regenerate_recovery_codes(user=user, code=code)
                    messages.success(request, "New recovery codes made; the old ones are void.")
                elif action == "disable" and device is not None:
                    two_factor.disable_authenticator(user=user, code=code)
                    request.session[two_factor.SESSION_ENROLLED] = False
                    messages.success(request, "Authenticator app removed.")
                    return redirect("two-factor")
                else:
                    return redirect("two-factor")
            except two_factor.CodeRefused:
                _count_wrong_code(request)
                form.add_error("code", WRONG_CODE)
            device = two_factor.confirmed_authenticator(user)
    pending = None
    if not by_sso and device is None:
        pending = two_factor.pending_authenticator(user)
    return render(
        request,
        "account/two_factor.html",
        {
            "form": form,
            "forms": forms,
            "by_sso": by_sso,
            "device": device,
            "pending": pending,
            "otpauth_uri": pending.config_url if pending else "",
            "secret": two_factor.base32_secret(pending) if pending else "",
            "recovery_codes": recovery_codes,
            "recovery_codes_left": two_factor.recovery_codes_left(user) if device else 0,
            "required_by": _team_requiring_totp(request),
        },
    )
