from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "triage"
    verbose_name = "Triage Portal"
    default_auto_field = "django.db.models.BigAutoField"
