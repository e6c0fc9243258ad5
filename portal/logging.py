"""Log filters of the portal."""

import logging
import re

# Kolega keys look like kcp_live_<random> or kcp_test_<random>; bearer headers carry them.
_SECRET_PATTERNS = (
    re.compile(r"kcp_(?:live|test)_[A-Za-z0-9_\-]+"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]+"),
)


def redact(text: str) -> str:
    text = _SECRET_PATTERNS[0].sub("kcp_[redacted]", text)
    return _SECRET_PATTERNS[1].sub(r"\1[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    """Last line of defence: no log record leaves the process with a Kolega key in it.

    The code never logs keys on purpose; this catches a key that slips into an exception
    message or a third-party library's debug output.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(exc_text)
        return True
