"""Rule sets of the secrets and code scans."""
