"""Settings of the Triage Portal, one module configured by the environment.

Every value that differs between a laptop, CI and production is read from an environment
variable; the defaults are the development ones and are refused in production where unsafe.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue as KombuQueue

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PORTAL_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


DEBUG = env_bool("DEBUG", False)

# Only usable when DEBUG is on: production must bring its own secrets.
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production-0123456789"
_DEV_ENCRYPTION_KEY = "8006m57EbXjZQQGhkLHq5kdyUgt-J50z40ryqrLZuNM="

SECRET_KEY = os.environ.get("SECRET_KEY") or (_DEV_SECRET_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

# Fernet keys for API keys at rest, comma-separated: the first encrypts, all decrypt.
PORTAL_ENCRYPTION_KEYS = env_list("PORTAL_ENCRYPTION_KEYS", [_DEV_ENCRYPTION_KEY] if DEBUG else [])
if not PORTAL_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("PORTAL_ENCRYPTION_KEYS must be set when DEBUG is off.")

# Values published in this repository (development defaults, test, build and benchmark values):
# anyone can read them, so they protect nothing outside development.
_PUBLISHED_SECRET_KEYS = {
    _DEV_SECRET_KEY,
    "test-secret-key-not-for-production-use-0123456789abcdef",
    "build-only",
    "bench-only-secret-key-" + "x" * 40,
    "profile-only-" + "x" * 50,
}
_PUBLISHED_ENCRYPTION_KEYS = {_DEV_ENCRYPTION_KEY, "Yk2mlm2c0eXqg0tTk0qIuGqUBo4nB9Yb8Hj7tZk1u3I="}
if not DEBUG and SECRET_KEY in _PUBLISHED_SECRET_KEYS:
    raise ImproperlyConfigured(
        "SECRET_KEY is a published development value: set a new random one when DEBUG is off."
    )
if not DEBUG and _PUBLISHED_ENCRYPTION_KEYS.intersection(PORTAL_ENCRYPTION_KEYS):
    raise ImproperlyConfigured(
        "PORTAL_ENCRYPTION_KEYS holds a published development key: generate new keys (see "
        "README, Configuration) and rotate away from it when DEBUG is off."
    )

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# /healthz reuses its last answer this long: unauthenticated requests cannot make it open a
# database and broker connection each.
PORTAL_HEALTH_CACHE_SECONDS = env_int("PORTAL_HEALTH_CACHE_SECONDS", 5)

SANDBOX_ENABLED = env_bool("SANDBOX_ENABLED", DEBUG)
SANDBOX_TIME_SCALE = float(os.environ.get("SANDBOX_TIME_SCALE", "1.0"))
SANDBOX_ADMIN_TOKEN = os.environ.get("SANDBOX_ADMIN_TOKEN", "")

# Outbound requests (triage/outbound.py; the README's Security section): https only unless
# allowed, public addresses only unless a range is allowed (loopback for the sandbox of a
# development run), Kolega connections only to the listed hosts ("*": any; the sandbox's own
# hosts while it is enabled), a byte cap and a deadline per call.
PORTAL_OUTBOUND_ALLOW_HTTP = env_bool("PORTAL_OUTBOUND_ALLOW_HTTP", DEBUG)
PORTAL_OUTBOUND_ALLOWED_NETWORKS = env_list(
    "PORTAL_OUTBOUND_ALLOWED_NETWORKS",
    ["127.0.0.0/8", "::1/128"] if DEBUG and SANDBOX_ENABLED else [],
)
PORTAL_KOLEGA_ALLOWED_HOSTS = env_list(
    "PORTAL_KOLEGA_ALLOWED_HOSTS", ["api.kolega.dev", *(ALLOWED_HOSTS if SANDBOX_ENABLED else [])]
)
PORTAL_OUTBOUND_MAX_RESPONSE_BYTES = env_int("PORTAL_OUTBOUND_MAX_RESPONSE_BYTES", 16 * 1024 * 1024)
PORTAL_OUTBOUND_DEADLINE_SECONDS = env_int("PORTAL_OUTBOUND_DEADLINE_SECONDS", 60)
# Key checks (GET /me when a connection is added or re-verified) per team and minute.
PORTAL_KEY_CHECKS_PER_MINUTE = env_int("PORTAL_KEY_CHECKS_PER_MINUTE", 10)
# The most mirror rows one sync of a team's connection writes before it stops as failed.
PORTAL_SYNC_MAX_ROWS = env_int("PORTAL_SYNC_MAX_ROWS", 5_000_000)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_filters",
    "template_partials",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "triage",
    "sandbox",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "triage.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "triage.middleware.SessionLifetimeMiddleware",
    "triage.middleware.PortalLoginRequiredMiddleware",
    "triage.middleware.SecondStepMiddleware",
    "triage.middleware.UserTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Axes must come last: it turns a lockout raised by the backend into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "triage.context_processors.portal",
            ],
        },
    },
]

VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'portal.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default: web, worker and beat (and a few users) share one file. WAL lets
    # readers go on while one writes; IMMEDIATE takes the write lock when a transaction starts,
    # so two writers queue for it (up to the timeout) instead of one failing with "database is
    # locked" when it upgrades a read lock half-way through.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": env_int("SQLITE_BUSY_TIMEOUT_SECONDS", 20),
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
FORMS_URLFIELD_ASSUME_HTTPS = True

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Off: only single sign-on signs people in, but for the break-glass usernames, who keep their
# password (and its second step) for when the identity provider is down.
PORTAL_LOCAL_SIGN_IN = env_bool("PORTAL_LOCAL_SIGN_IN", True)
PORTAL_BREAK_GLASS_USERS = env_list("PORTAL_BREAK_GLASS_USERS", [])

AUTHENTICATION_BACKENDS = [
    "triage.sign_in.LocalSignInSwitchBackend",
    "triage.sign_in.SignInSlowdownBackend",
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # Signs in only from the single sign-on callback; answers None to everything else.
    "triage.oidc.backend.SsoBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},  # ASVS 2.1.1
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# The issuer an authenticator app shows beside the account of a TOTP device.
OTP_TOTP_ISSUER = "Triage Portal"
# Wrong codes count toward the sign-in slowdown and lockout of the account (triage/sign_in.py)
# as wrong passwords do; django-otp's own per-device throttle would refuse a right code
# silently after a wrong one.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0

# Lock an account + address pair after repeated failures; a success resets the count.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Behind N reverse proxies, the client address is the N-th from the right of X-Forwarded-For;
# 0 (no proxy) uses the connection's address and ignores the header.
PORTAL_TRUSTED_PROXY_HOPS = env_int("PORTAL_TRUSTED_PROXY_HOPS", 0)
AXES_CLIENT_IP_CALLABLE = "triage.sign_in.client_address"
# Per account, whatever the address: after this many failures one attempt per wait, the wait
# doubling per further failure up to the maximum (triage/sign_in.py).
PORTAL_SIGN_IN_SLOWDOWN_AFTER = env_int("PORTAL_SIGN_IN_SLOWDOWN_AFTER", 10)
PORTAL_SIGN_IN_SLOWDOWN_MAX_SECONDS = env_int("PORTAL_SIGN_IN_SLOWDOWN_MAX_SECONDS", 60)

# Single sign-on through an OpenID Connect provider (triage/oidc/, mozilla-django-oidc): off
# while no issuer is set. Each value comes from the environment, or from the JSON object in the
# file PORTAL_OIDC_CONFIG_FILE (keys: issuer, client_id, client_secret, button_label, scopes,
# groups_claim); the environment wins. The endpoints are read from the issuer's discovery
# document, fetched under the outbound rules above.
_OIDC_FILE = {}
if os.environ.get("PORTAL_OIDC_CONFIG_FILE"):
    import json

    with open(os.environ["PORTAL_OIDC_CONFIG_FILE"], encoding="utf-8") as _oidc_file:
        _OIDC_FILE = json.load(_oidc_file)


def _oidc(name: str, default: str = "") -> str:
    return os.environ.get(f"PORTAL_OIDC_{name.upper()}", str(_OIDC_FILE.get(name, default)))


PORTAL_OIDC_ISSUER = _oidc("issuer")
PORTAL_OIDC_BUTTON_LABEL = _oidc("button_label", "Sign in with your company account")
PORTAL_OIDC_GROUPS_CLAIM = _oidc("groups_claim", "groups")
OIDC_RP_CLIENT_ID = _oidc("client_id")
OIDC_RP_CLIENT_SECRET = _oidc("client_secret")
OIDC_RP_SCOPES = _oidc("scopes", "openid email profile groups")
# How long the provider's discovery document is reused (seconds; 0: read at every sign-in).
PORTAL_OIDC_DISCOVERY_CACHE_SECONDS = env_int("PORTAL_OIDC_DISCOVERY_CACHE_SECONDS", 300)
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_NONCE = True
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_STORE_ID_TOKEN = True  # the hint of the provider's sign-out
OIDC_AUTHENTICATION_CALLBACK_URL = "sso-callback"
OIDC_REDIRECT_FIELD_NAME = "next"
OIDC_MAX_STATES = 10

# Sessions end after an idle time (sliding) and after an absolute time since sign-in.
PORTAL_SESSION_IDLE_SECONDS = env_int("PORTAL_SESSION_IDLE_SECONDS", 30 * 60)
PORTAL_SESSION_ABSOLUTE_SECONDS = env_int("PORTAL_SESSION_ABSOLUTE_SECONDS", 12 * 60 * 60)
SESSION_COOKIE_AGE = PORTAL_SESSION_IDLE_SECONDS
# The idle expiry slides forward at most once a minute (SessionLifetimeMiddleware), not on
# every request: a page view costs no session write.
PORTAL_SESSION_REFRESH_SECONDS = env_int("PORTAL_SESSION_REFRESH_SECONDS", 60)
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "triage.views.errors.csrf_failure"

# HTTPS settings are on whenever DEBUG is off; PORTAL_HTTPS=0 only for a plain-HTTP local run.
HTTPS = env_bool("PORTAL_HTTPS", not DEBUG)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("PORTAL_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env_bool("PORTAL_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if env_bool("PORTAL_STATIC_MANIFEST", not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "triage-portal@localhost")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)

# The address people reach the portal at, for links in emails (invitations).
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
PORTAL_INVITATION_DAYS = env_int("PORTAL_INVITATION_DAYS", 7)
# Notification deliveries: the first retry waits this long, each next one twice as long.
PORTAL_NOTIFY_BACKOFF_SECONDS = env_int("PORTAL_NOTIFY_BACKOFF_SECONDS", 30)
PORTAL_NOTIFY_BACKOFF_MAX_SECONDS = env_int("PORTAL_NOTIFY_BACKOFF_MAX_SECONDS", 3600)
# Each channel sends at most this many messages a minute; more wait for the next minute.
PORTAL_NOTIFY_CHANNEL_PER_MINUTE = env_int("PORTAL_NOTIFY_CHANNEL_PER_MINUTE", 30)
# A delivery being sent is claimed this long; past it, its worker is taken for dead and the
# sweep sends it again. Keep it above the webhook deadline (10 s) and the SMTP timeout.
PORTAL_NOTIFY_CLAIM_SECONDS = env_int("PORTAL_NOTIFY_CLAIM_SECONDS", 60)
# A campaign's fix being started is claimed this long; past it, its worker is taken for dead
# and the next launch run looks the fix up in Kolega before sending anything again. Keep it
# above the client's deadline for a create.
PORTAL_CAMPAIGN_CLAIM_SECONDS = env_int("PORTAL_CAMPAIGN_CLAIM_SECONDS", 180)
# The hour (UTC) the daily and weekly digests are sent.
PORTAL_DIGEST_HOUR = env_int("PORTAL_DIGEST_HOUR", 6)

# Celery: Redis when REDIS_URL is set, otherwise a broker kept in files so that the worker
# and beat still run as separate processes with no server to install.
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
PORTAL_BROKER_VISIBILITY_TIMEOUT = env_int("PORTAL_BROKER_VISIBILITY_TIMEOUT", 3600)
if PORTAL_BROKER_VISIBILITY_TIMEOUT < 1:
    raise ImproperlyConfigured("PORTAL_BROKER_VISIBILITY_TIMEOUT must be at least 1 (seconds).")
if not REDIS_URL:
    _broker_dir = VAR_DIR / "celery-broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "data_folder_processed": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
    }
else:
    # A message a worker took and has not acknowledged (tasks acknowledge when they end) goes
    # back on its queue this long after it was delivered: how a killed worker's task reaches
    # another worker. Keep it longer than the longest task (time limit below) and the sync
    # lease, or a task still running is delivered to a second worker; long waits are short
    # self-rescheduling tasks instead. Workers look for such messages every tenth of it (at
    # most every ten seconds).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": PORTAL_BROKER_VISIBILITY_TIMEOUT,
        "unacked_restore_interval": max(1, min(10, PORTAL_BROKER_VISIBILITY_TIMEOUT // 10)),
        "unacked_restore_throttle": 1,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 25 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker restart or outage of any length: the worker keeps reconnecting (default: 100 tries,
# then it exits). A task running when the connection drops finishes its work; its message
# stays unacknowledged in Redis and is delivered again, which every task is safe to receive.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Mirror sync: an incremental sync per active connection every interval, a reconciliation
# nightly. Tracking of active scan batches and fixes polls every few seconds; the lease keeps
# two syncs of one connection apart and lapses this long after a worker dies mid-sync.
PORTAL_SYNC_INTERVAL_SECONDS = env_int("PORTAL_SYNC_INTERVAL_SECONDS", 60)
PORTAL_SYNC_RECONCILE_HOUR = env_int("PORTAL_SYNC_RECONCILE_HOUR", 3)
PORTAL_SYNC_EVENTS_OVERLAP_SECONDS = env_int("PORTAL_SYNC_EVENTS_OVERLAP_SECONDS", 300)
PORTAL_SYNC_LEASE_SECONDS = env_int("PORTAL_SYNC_LEASE_SECONDS", 120)
# A running sync saves its progress (phase, requests, rows) for its page at most this often.
PORTAL_SYNC_PROGRESS_SECONDS = env_int("PORTAL_SYNC_PROGRESS_SECONDS", 1)
PORTAL_SYNC_BACKOFF_MAX_SECONDS = env_int("PORTAL_SYNC_BACKOFF_MAX_SECONDS", 1800)
PORTAL_TRACK_POLL_SECONDS = env_int("PORTAL_TRACK_POLL_SECONDS", 5)
# Database upkeep: finding events and sync runs older than these many days are deleted each
# night (0 keeps them forever). Reports stay exact from the first day kept; the latest run of
# each connection is kept whatever its age. A sync or a prune that wrote or deleted at least
# PORTAL_ANALYZE_AFTER_ROWS rows refreshes the planner's statistics of the tables it touched.
PORTAL_EVENTS_RETENTION_DAYS = env_int("PORTAL_EVENTS_RETENTION_DAYS", 730)
PORTAL_SYNC_RUNS_RETENTION_DAYS = env_int("PORTAL_SYNC_RUNS_RETENTION_DAYS", 90)
PORTAL_PRUNE_BATCH_SIZE = env_int("PORTAL_PRUNE_BATCH_SIZE", 5000)
PORTAL_PRUNE_HOUR = env_int("PORTAL_PRUNE_HOUR", 1)
PORTAL_ANALYZE_AFTER_ROWS = env_int("PORTAL_ANALYZE_AFTER_ROWS", 10_000)
for _name in ("PORTAL_EVENTS_RETENTION_DAYS", "PORTAL_SYNC_RUNS_RETENTION_DAYS"):
    if globals()[_name] < 0:
        raise ImproperlyConfigured(f"{_name} must be 0 (keep forever) or a number of days.")
if PORTAL_PRUNE_BATCH_SIZE < 1:
    raise ImproperlyConfigured("PORTAL_PRUNE_BATCH_SIZE must be at least 1.")
CELERY_BEAT_SCHEDULE = {
    "sync-due-connections": {
        "task": "triage.tasks.sync_due_connections",
        "schedule": float(PORTAL_SYNC_INTERVAL_SECONDS),
    },
    "reconcile-connections-nightly": {
        "task": "triage.tasks.reconcile_connections",
        "schedule": crontab(hour=PORTAL_SYNC_RECONCILE_HOUR, minute=17),
    },
    "report-snapshots-nightly": {
        "task": "triage.tasks_reports.report_snapshots_refresh_all",
        "schedule": crontab(hour=0, minute=23),
    },
    # Old finding events and sync runs, after the nightly snapshot rebuild has counted them.
    "prune-history-nightly": {
        "task": "triage.tasks.prune_history",
        "schedule": crontab(hour=PORTAL_PRUNE_HOUR, minute=37),
    },
    # Approved "ignored" dismissals whose expiry date has come: reopen their findings.
    "expire-dismissals-hourly": {
        "task": "triage.tasks_findings.expire_dismissals",
        "schedule": crontab(minute=41),
    },
    # Notification deliveries due for a retry, or whose sender died mid-send.
    "deliver-notifications-due": {
        "task": "triage.tasks.deliver_notifications_due",
        "schedule": 60.0,
    },
    # SLA due soon or breached (one summary per team and day) and dismissals about to expire.
    "notify-scheduled-events-hourly": {
        "task": "triage.tasks.notify_scheduled_events",
        "schedule": crontab(minute=7),
    },
    # Digests of the last complete UTC day, and on Mondays of the last week; after the nightly
    # snapshot rebuild, whose figures they read.
    "send-digests-daily": {
        "task": "triage.tasks.send_digests",
        "schedule": crontab(hour=PORTAL_DIGEST_HOUR, minute=5),
        "args": ("daily",),
    },
    "send-digests-weekly": {
        "task": "triage.tasks.send_digests",
        "schedule": crontab(hour=PORTAL_DIGEST_HOUR, minute=10, day_of_week=1),
        "args": ("weekly",),
    },
}
CELERY_TIMEZONE = "UTC"
# Kolega changes one finding per request: a bulk status job sends this many at a time.
PORTAL_STATUS_JOB_CONCURRENCY = env_int("PORTAL_STATUS_JOB_CONCURRENCY", 8)
# A new connection is synced at once rather than at the next scheduled sync.
PORTAL_SYNC_ON_CONNECT = env_bool("PORTAL_SYNC_ON_CONNECT", True)
# Every task lives in triage/tasks.py (found by autodiscovery) and runs on the queue of its
# area, so an operator can give slow work its own workers (`celery worker -Q bulk`). A worker
# started without -Q consumes every queue declared here, as the default worker does.
CELERY_TASK_DEFAULT_QUEUE = "celery"
# "mail" is for outgoing notifications; approvers' emails are still sent by the request.
PORTAL_TASK_QUEUES = ("celery", "sync", "tracking", "bulk", "reports", "mail")
CELERY_TASK_QUEUES = [KombuQueue(name, routing_key=name) for name in PORTAL_TASK_QUEUES]
CELERY_TASK_ROUTES = {
    "triage.tasks.sync_connection": {"queue": "sync"},
    "triage.tasks.sync_due_connections": {"queue": "sync"},
    "triage.tasks.reconcile_connections": {"queue": "sync"},
    "triage.tasks.prune_history": {"queue": "bulk"},
    "triage.tasks.track_scan_batch": {"queue": "tracking"},
    "triage.tasks.track_fix": {"queue": "tracking"},
    "triage.tasks_findings.run_finding_status_job": {"queue": "bulk"},
    "triage.tasks_findings.expire_dismissals": {"queue": "bulk"},
    # Opening pull requests is a person waiting on one quick write: the default queue.
    "triage.tasks_reports.report_snapshots_refresh": {"queue": "reports"},
    "triage.tasks_reports.report_snapshots_refresh_all": {"queue": "reports"},
    "triage.tasks.send_invitation_email": {"queue": "mail"},
    "triage.tasks.evaluate_ownership": {"queue": "bulk"},
    "triage.tasks.launch_campaign": {"queue": "bulk"},
    "triage.tasks.deliver_notification": {"queue": "mail"},
    "triage.tasks.deliver_notifications_due": {"queue": "mail"},
    "triage.tasks.notify_scheduled_events": {"queue": "mail"},
    "triage.tasks.send_digests": {"queue": "mail"},
    "triage.tasks.send_digest": {"queue": "mail"},
}

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "portal.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
