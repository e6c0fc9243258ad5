"""Every write of the portal: each service checks role and state, calls Kolega first when the
write is Kolega's, then updates the database and the audit log."""
