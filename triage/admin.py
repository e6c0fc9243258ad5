from django import forms
from django.contrib import admin
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from triage.models import AuditEvent, KolegaConnection, Membership, Team, UserPreference


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role"]
    list_filter = ["role", "team"]
    autocomplete_fields = ["user", "team"]


class ConnectionAdminForm(forms.ModelForm):
    """The key is write-only: the field is always rendered empty and left unchanged when blank."""

    new_api_key = forms.CharField(
        label="API key",
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave empty to keep the stored key. Prefer Settings → Kolega connections, "
        "which verifies the key with Kolega.",
    )

    class Meta:
        model = KolegaConnection
        fields = [
            "team",
            "name",
            "base_url",
            "organization_id",
            "organization_name",
            "organization_slug",
            "key_name",
            "scopes",
            "state",
            "state_reason",
        ]

    def save(self, commit=True):
        if self.cleaned_data.get("new_api_key"):
            self.instance.api_key = self.cleaned_data["new_api_key"]
        return super().save(commit=commit)


@admin.register(KolegaConnection)
class KolegaConnectionAdmin(admin.ModelAdmin):
    form = ConnectionAdminForm
    list_display = ["name", "team", "organization_name", "key_prefix", "state", "verified_at"]
    list_filter = ["state", "team"]
    readonly_fields = ["key_id", "key_prefix", "verified_at", "created_at", "updated_at"]

    @method_decorator(sensitive_post_parameters("new_api_key"))
    def changeform_view(self, request, *args, **kwargs):
        return super().changeform_view(request, *args, **kwargs)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "team", "actor_label", "action", "target_label"]
    list_filter = ["action", "team"]
    search_fields = ["actor_label", "target_label", "action"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(UserPreference)
