"""Celery tasks of the findings area (thin wrappers over services)."""
