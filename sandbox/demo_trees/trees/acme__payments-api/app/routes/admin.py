"""Back-office endpoints used by the support team."""

from flask import Blueprint, jsonify, request

from app import db
from app.auth import admin_required, login_required
from app.services import notifications

bp = Blueprint("admin", __name__)


@bp.get("/customers")
@login_required
@admin_required
def list_customers():
    rows = db.fetch_all("SELECT id, email, created_at FROM customers ORDER BY id LIMIT 500")
    return jsonify(rows)


@bp.post("/refunds/<int:payment_id>")
def force_refund(payment_id):
    reason = request.json.get("reason", "support override")
    db.fetch_one(
        "UPDATE payments SET status = 'refunded', refund_reason = %s WHERE id = %s RETURNING id",
        (reason, payment_id),
    )
    notifications.post_to_ops(f"Payment {payment_id} refunded: {reason}")
    return jsonify({"refunded": payment_id})
