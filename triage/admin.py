from django import forms
from django.contrib import admin
from django.db import transaction
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from triage.models import (
    AuditEvent,
    GroupRoleMapping,
    KolegaConnection,
    Membership,
    SsoIdentity,
    Team,
    UserPreference,
)
from triage.models.audit import audit_log


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
    list_display = ["user", "team", "role", "source"]
    list_filter = ["role", "source", "team"]
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


@admin.register(GroupRoleMapping)
class GroupRoleMappingAdmin(admin.ModelAdmin):
    """Identity-provider groups and the team role each gives at sign-in (services.sso)."""

    list_display = ["group", "team", "role", "created_at"]
    list_filter = ["role", "team"]
    search_fields = ["group", "team__name", "team__slug"]
    autocomplete_fields = ["team"]

    def _audit(self, request, obj, action):
        audit_log(
            team=obj.team,
            actor=request.user,
            action=action,
            target=obj,
            details={"group": obj.group, "role": obj.role},
        )

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            self._audit(request, obj, "group_mapping.change" if change else "group_mapping.create")

    def delete_model(self, request, obj):
        with transaction.atomic():
            self._audit(request, obj, "group_mapping.delete")
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset.select_related("team"):
                self._audit(request, obj, "group_mapping.delete")
            super().delete_queryset(request, queryset)


@admin.register(SsoIdentity)
class SsoIdentityAdmin(admin.ModelAdmin):
    """Read only: who signs in through the identity provider, and their groups at the last
    sign-in."""

    list_display = ["user", "issuer", "subject", "last_sign_in_at"]
    search_fields = ["user__username", "user__email", "subject"]
    readonly_fields = ["user", "issuer", "subject", "groups", "created_at", "last_sign_in_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
