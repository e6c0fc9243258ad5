"""Which links from Kolega's data may become a link on a page.

`pr_url`, `html_url`, `source_url` and `references` are text an upstream (or an agent's
output) chose. Only an absolute http(s) URL is a link; anything else (`javascript:`, `data:`,
a relative path) is shown as text.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def web_url(value: object) -> str | None:
    """``value`` when it is an absolute http or https URL with a host, else None.

    Browsers drop tabs, line breaks and leading spaces from a URL before reading its
    scheme (``java\\tscript:``), so a URL holding any space or control character is refused
    whole rather than cleaned.
    """
    if not isinstance(value, str) or not value:
        return None
    if any(ord(char) <= 0x20 or 0x7F <= ord(char) <= 0x9F for char in value):
        return None
    if not value.lower().startswith(("http://", "https://")):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value
