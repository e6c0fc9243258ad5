from django import forms
from django.contrib.auth.forms import PasswordResetForm


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
    sign-on has no portal password to reset (the provider keeps it)."""

    def get_users(self, email):
        return (user for user in super().get_users(email) if not hasattr(user, "sso_identity"))
