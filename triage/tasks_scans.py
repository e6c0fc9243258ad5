"""Celery tasks of the scans area (thin wrappers over services)."""
