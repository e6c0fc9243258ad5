"""Payments API: Flask application factory."""

from flask import Flask

from app import db
from app.config import Settings
from app.routes import admin, payments, reports


def create_app(settings: Settings | None = None) -> Flask:
    app = Flask(__name__)
    settings = settings or Settings.from_env()
    app.config.from_mapping(settings.as_flask_config())
    app.secret_key = settings.session_secret

    db.init_app(app)
    app.register_blueprint(payments.bp, url_prefix="/api/payments")
    app.register_blueprint(reports.bp, url_prefix="/api/reports")
    app.register_blueprint(admin.bp, url_prefix="/admin")
    return app
