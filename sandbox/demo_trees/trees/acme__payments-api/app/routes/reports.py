"""Finance reports: layout templates, saved dashboard filters and CSV exports."""

import base64
import pickle
import subprocess

import yaml
from flask import Blueprint, jsonify, request, send_file

from app import db
from app.auth import login_required

bp = Blueprint("reports", __name__)

EXPORT_DIR = "/var/lib/payments/exports"


@bp.post("/templates")
@login_required
def upload_template():
    # Finance uploads report layouts as YAML produced by the spreadsheet exporter.
    template = yaml.load(request.get_data(as_text=True), Loader=yaml.Loader)
    db.fetch_one(
        "INSERT INTO report_templates (name, body) VALUES (%s, %s) RETURNING id",
        (template["name"], yaml.safe_dump(template)),
    )
    return jsonify({"name": template["name"]}), 201


@bp.post("/filters/restore")
@login_required
def restore_filters():
    # The dashboard round-trips saved filters as an opaque blob.
    blob = base64.b64decode(request.form["state"])
    filters = pickle.loads(blob)
    return jsonify(filters)


@bp.get("/export/<name>")
@login_required
def export_report(name):
    archive = f"{EXPORT_DIR}/{name}.tar.gz"
    subprocess.run(f"tar czf {archive} -C {EXPORT_DIR} {name}.csv", shell=True, check=True)
    return send_file(archive, as_attachment=True)
