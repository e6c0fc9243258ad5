"""Integrations with services outside the payments database."""
