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


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,
        error_messages={
            "required": "Enter the email address to invite.",
            "invalid": "Enter an email address, such as ana@example.com.",
        },
        help_text="They get a link that works once and expires after a week.",
    )
    role = forms.ChoiceField(
        label="Role when they join",
        choices=Role.choices,
        initial=Role.VIEWER,
        error_messages={"invalid_choice": "Choose one of the roles."},
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "invite")
        super().__init__(*args, **kwargs)


class PreferenceForm(forms.Form):
    timezone = forms.ChoiceField(
        choices=lambda: [(n, n) for n in sorted(zoneinfo.available_timezones())],
        help_text="Times are shown in this time zone.",
    )


class TeamSignInPolicyForm(forms.Form):
    """Whether members who sign in with a local password need an authenticator app."""

    require_totp = forms.BooleanField(
        required=False,
        label="Members need an authenticator app",
        help_text="Members who sign in with a password are sent to enrol an authenticator app "
        "(TOTP) and open the team's pages only once it is confirmed. Members who sign in "
        "through single sign-on are exempt: their identity provider asks for their second "
        "factor.",
    )


class TeamApprovalPolicyForm(forms.Form):
    """Who must agree before pull requests are opened or findings dismissed, and whether the
    last approval opens the pull requests."""

    required_approvals = forms.TypedChoiceField(
        label="Approvals a fix needs",
        coerce=int,
        choices=[(1, "One approver"), (2, "Two approvers")],
        error_messages={"invalid_choice": "Choose one or two approvers."},
    )
    admins_may_self_approve = forms.BooleanField(
        required=False, label="Admins may approve their own requests"
    )
    dismissals_require_approval = forms.BooleanField(
        required=False,
        label="Dismissals need approval",
        help_text="Setting findings to Ignored or False positive becomes a request with a "
        "reason that an approver decides.",
    )
    open_pull_requests_on_approval = forms.BooleanField(
        required=False,
        label="Approving opens the pull requests",
        help_text="On: the last approval needed opens the pull requests at once. Off: the fix "
        "stays approved, and a triager or approver opens them with “Open pull requests”.",
    )


class TeamSlaForm(forms.Form):
    """Days a finding of each severity may stay open; errors name the field as the form does."""

    critical_days = forms.IntegerField(label="Critical (days)", min_value=1, max_value=3650)
    high_days = forms.IntegerField(label="High (days)", min_value=1, max_value=3650)
    medium_days = forms.IntegerField(label="Medium (days)", min_value=1, max_value=3650)
    low_days = forms.IntegerField(label="Low (days)", min_value=1, max_value=3650)

    MIN_DAYS, MAX_DAYS = 1, 3650

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.widget.attrs.update(min=self.MIN_DAYS, max=self.MAX_DAYS)
            field.error_messages.update(
                required=f"Give {field.label[:-7].lower()} findings a number of days.",
                invalid=f"{field.label} must be a whole number of days.",
                min_value=f"{field.label} must be between {self.MIN_DAYS} and {self.MAX_DAYS}.",
                max_value=f"{field.label} must be between {self.MIN_DAYS} and {self.MAX_DAYS}.",
            )

    def _clean_days(self, name: str) -> int:
        value = self.cleaned_data[name]
        if not self.MIN_DAYS <= value <= self.MAX_DAYS:
            raise forms.ValidationError(
                f"{self.fields[name].label} must be between {self.MIN_DAYS} and {self.MAX_DAYS}.",
                code="range",
            )
        return value

    def clean_critical_days(self):
        return self._clean_days("critical_days")

    def clean_high_days(self):
        return self._clean_days("high_days")

    def clean_medium_days(self):
        return self._clean_days("medium_days")

    def clean_low_days(self):
        return self._clean_days("low_days")

    def days(self) -> dict[str, int]:
        return {
            name.removesuffix("_days"): value
            for name, value in self.cleaned_data.items()
            if name.endswith("_days")
        }
