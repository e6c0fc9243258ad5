"""Reporting helpers that are neither selectors nor services: CSV exports."""
