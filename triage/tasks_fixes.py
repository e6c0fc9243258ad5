"""Celery tasks of the fixes area (thin wrappers over services)."""
