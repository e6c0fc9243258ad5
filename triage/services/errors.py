class ServiceError(Exception):
    """A write was refused; ``message`` is safe to show to the user as it is."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class RoleRequired(ServiceError):
    """The acting user's role in the team is below what the write needs."""
