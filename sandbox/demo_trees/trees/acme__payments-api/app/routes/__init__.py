"""HTTP blueprints of the payments API."""
