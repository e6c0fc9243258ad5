import zoneinfo

from django import forms

from triage.models import DEFAULT_KOLEGA_BASE_URL, Role
from triage.services.connections import connection_base_url_check
from triage.services.errors import ServiceError


class KolegaBaseURLField(forms.URLField):
    """A URL field that judges a query, fragment or credentials as typed: URL validation
    would drop an empty "?" or "#", or call "http://x/?" invalid without saying why."""

    def to_python(self, value):
        typed = value.strip() if isinstance(value, str) else value
        if typed and any(character in typed for character in "?#@"):
            try:
                connection_base_url_check(typed)
            except ServiceError as exc:
                raise forms.ValidationError(exc.message, code="invalid") from None
        return super().to_python(value)


class ConnectionForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="How the team calls this organization.")
    base_url = KolegaBaseURLField(
        label="Base URL",
        max_length=300,
        initial=DEFAULT_KOLEGA_BASE_URL,
        assume_scheme="https",
        help_text="The Kolega API root, without /api/v1.",
    )
    api_key = forms.CharField(
        label="API key",
        max_length=300,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="An organization key (kcp_live_… or kcp_test_…). Stored encrypted; "
        "only its prefix is shown again.",
    )

    def clean_base_url(self):
        url = self.cleaned_data["base_url"].rstrip("/")
        if url.endswith("/api/v1"):
            url = url[: -len("/api/v1")]
        try:
            return connection_base_url_check(url)
        except ServiceError as exc:
            raise forms.ValidationError(exc.message) from None


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class PreferenceForm(forms.Form):
    timezone = forms.ChoiceField(
        choices=lambda: [(n, n) for n in sorted(zoneinfo.available_timezones())],
        help_text="Times are shown in this time zone.",
    )
