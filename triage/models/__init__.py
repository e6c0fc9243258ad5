from triage.models.audit import AuditEvent
from triage.models.connections import DEFAULT_KOLEGA_BASE_URL, KolegaConnection
from triage.models.teams import Membership, Role, Team, UserPreference

__all__ = [
    "DEFAULT_KOLEGA_BASE_URL",
    "AuditEvent",
    "KolegaConnection",
    "Membership",
    "Role",
    "Team",
    "UserPreference",
]
