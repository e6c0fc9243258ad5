# Production image: gunicorn serving the portal; the same image runs the Celery worker and beat.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system portal && useradd --system --gid portal --home /app --shell /usr/sbin/nologin portal

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --chown=portal:portal . .

# collectstatic needs settings that import cleanly; these throw-away build-time keys are never used
# at run time (published keys are refused with DEBUG off).
RUN DEBUG=0 SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    PORTAL_ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    SANDBOX_ENABLED=0 PORTAL_VAR_DIR=/tmp/portal-build \
    python manage.py collectstatic --no-input \
    && mkdir -p /app/var && chown -R portal:portal /app/var

USER portal
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"

# gunicorn believes X-Forwarded-* only from these addresses (its FORWARDED_ALLOW_IPS): set it to
# the reverse proxy's address, never "*", or any client could claim to have come over HTTPS.
ENV FORWARDED_ALLOW_IPS=127.0.0.1
CMD ["gunicorn", "portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--access-logfile", "-"]
