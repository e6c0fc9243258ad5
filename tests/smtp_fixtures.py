"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 on a free port, keeping what it is sent.

``smtp_server`` starts it and points Django's SMTP backend at it; the test reads the delivered
messages from ``smtp_server.messages`` (``email.message.EmailMessage`` objects).
"""

from __future__ import annotations

import email
import email.policy
import socket
import time
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller


@dataclass
class Mailbox:
    """What the server was sent, in order."""

    messages: list = field(default_factory=list)
    envelopes: list = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(
            email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        )
        return "250 Message accepted for delivery"

    def wait_for(self, count: int = 1, seconds: float = 5.0) -> list:
        deadline = time.monotonic() + seconds
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server(settings):
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    mailbox.port = controller.port
    try:
        yield mailbox
    finally:
        controller.stop()
