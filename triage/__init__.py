"""Triage Portal: the product app."""

__version__ = "0.1.0"
