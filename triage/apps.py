from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "triage"
    verbose_name = "Triage Portal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from triage import sign_in  # noqa: F401  (connects the sign-in failure counters)
