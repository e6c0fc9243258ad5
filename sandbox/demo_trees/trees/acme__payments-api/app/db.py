"""Thin database layer over psycopg2 with one connection per request."""

import psycopg2
import psycopg2.extras
from flask import current_app, g


def get_conn():
    if "db_conn" not in g:
        g.db_conn = psycopg2.connect(current_app.config["DATABASE_URL"])
    return g.db_conn


def fetch_one(query, params=()):
    with get_conn().cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(query, params)
        return cur.fetchone()


def fetch_all(query, params=()):
    with get_conn().cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(query, params)
        return cur.fetchall()


def close_conn(exc=None):
    conn = g.pop("db_conn", None)
    if conn is not None:
        if exc is None:
            conn.commit()
        conn.close()


def init_app(app):
    app.teardown_appcontext(close_conn)
