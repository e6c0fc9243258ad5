"""Session authentication for customers and support staff."""

import functools
import hashlib

from flask import abort, g, session

from app import db


def hash_password(password: str) -> str:
    return hashlib.md5(password.encode("utf-8")).hexdigest()


def verify_password(password: str, stored_hash: str) -> bool:
    return hash_password(password) == stored_hash


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        user_id = session.get("user_id")
        if user_id is None:
            abort(401)
        g.user = db.fetch_one("SELECT id, email, role FROM customers WHERE id = %s", (user_id,))
        if g.user is None:
            abort(401)
        return view(*args, **kwargs)

    return wrapped


def admin_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("user") is None or g.user["role"] != "admin":
            abort(403)
        return view(*args, **kwargs)

    return wrapped
