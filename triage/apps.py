from django.apps import AppConfig


class TriageConfig(AppConfig):
    name = "triage"
    verbose_name = "Triage Portal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # sign_in connects the sign-in failure counters. Services queue tasks by name through
        # Celery's registry (triage/task_queue.py), so every process, the web's included,
        # registers the tasks at start, not only the worker.
        from triage import sign_in, tasks  # noqa: F401
