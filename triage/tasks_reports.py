"""Celery tasks of the reports area (thin wrappers over services)."""
