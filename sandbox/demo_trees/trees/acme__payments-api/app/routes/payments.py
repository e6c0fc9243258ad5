"""Customer-facing payment endpoints."""

from flask import Blueprint, abort, g, jsonify, request

from app import db
from app.auth import login_required

bp = Blueprint("payments", __name__)


@bp.get("/")
@login_required
def list_payments():
    status = request.args.get("status", "succeeded")
    rows = db.fetch_all(
        f"SELECT id, amount_cents, currency, status FROM payments "
        f"WHERE customer_id = {g.user['id']} AND status = '{status}' ORDER BY created_at DESC"
    )
    return jsonify(rows)


@bp.get("/<int:payment_id>")
@login_required
def get_payment(payment_id):
    payment = db.fetch_one("SELECT * FROM payments WHERE id = %s", (payment_id,))
    if payment is None:
        abort(404)
    return jsonify(payment)


@bp.post("/")
@login_required
def create_payment():
    body = request.get_json(force=True)
    amount = int(body["amount_cents"])
    currency = body.get("currency", "usd")
    row = db.fetch_one(
        "INSERT INTO payments (customer_id, amount_cents, currency, status) "
        "VALUES (%s, %s, %s, 'pending') RETURNING id",
        (g.user["id"], amount, currency),
    )
    return jsonify(row), 201


@bp.get("/search")
@login_required
def search_payments():
    term = request.args.get("q", "")
    rows = db.fetch_all("SELECT id, description FROM payments WHERE description ILIKE '%" + term + "%'")
    return jsonify(rows)
