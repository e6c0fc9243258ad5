from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm

from triage.sign_in import local_sign_in_allowed


class OneTimeCodeForm(forms.Form):
    """A code from the authenticator app (six digits) or a recovery code."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text"}),
        help_text="The six digits your authenticator app shows now, or one recovery code.",
    )

    def clean_code(self):
        code = self.cleaned_data["code"].replace(" ", "")
        if not code.isalnum():
            raise forms.ValidationError("A code has only letters and digits.")
        return code


class LocalPasswordResetForm(PasswordResetForm):
    """Password reset by email for local accounts only: a user who signs in through single
    sign-on has no portal password to reset (the provider keeps it), nor has anyone but the
    break-glass users while local sign-in is off."""

    def get_users(self, email):
        return (
            user
            for user in super().get_users(email)
            if not hasattr(user, "sso_identity") and local_sign_in_allowed(user.get_username())
        )


LOCAL_SIGN_IN_OFF = "Signing in with a password is turned off here: use single sign-on."


class PortalAuthenticationForm(AuthenticationForm):
    """Django's sign-in form, saying so when local sign-in is off for the account."""

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            if getattr(self.request, "portal_local_sign_in_off", False):
                raise forms.ValidationError(LOCAL_SIGN_IN_OFF, code="local_sign_in_off") from None
            raise
