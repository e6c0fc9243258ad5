"""Read side for views and reports: filtered, paginated, aggregated querysets."""

import json

from django.db import connection
from django.db.models import Q


def json_list_contains(field: str, value: str) -> Q:
    """Rows whose JSON list ``field`` holds ``value``.

    PostgreSQL answers ``@>`` (``__contains``); SQLite has no JSON containment, so there the
    list's JSON text is searched for the quoted element, which matches whole elements only.
    """
    if connection.features.supports_json_field_contains:
        return Q(**{f"{field}__contains": [value]})
    return Q(**{f"{field}__icontains": json.dumps(value)})
