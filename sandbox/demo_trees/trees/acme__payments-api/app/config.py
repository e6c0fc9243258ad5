"""Runtime settings, read once at start-up."""

import os
from dataclasses import dataclass

# Fallbacks used when the container starts without the secrets mount.
STRIPE_SECRET_KEY = "sk_live_51MqP2xLkT8vYhR3nW6cJ0aZd"
AWS_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
RECEIPTS_BUCKET = "acme-payments-receipts"


@dataclass(frozen=True)
class Settings:
    database_url: str
    stripe_key: str
    receipts_bucket: str
    session_secret: str
    debug: bool = False

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            database_url=os.environ.get("DATABASE_URL", "postgresql://payments@localhost/payments"),
            stripe_key=os.environ.get("STRIPE_SECRET_KEY", STRIPE_SECRET_KEY),
            receipts_bucket=os.environ.get("RECEIPTS_BUCKET", RECEIPTS_BUCKET),
            session_secret=os.environ["SESSION_SECRET"],
            debug=os.environ.get("FLASK_DEBUG") == "1",
        )

    def as_flask_config(self) -> dict[str, object]:
        return {
            "DATABASE_URL": self.database_url,
            "STRIPE_KEY": self.stripe_key,
            "RECEIPTS_BUCKET": self.receipts_bucket,
            "DEBUG": self.debug,
        }
