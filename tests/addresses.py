"""Addresses of the networks no outbound request of the portal may reach."""

# Cloud metadata, private, shared (carrier-grade NAT), unique-local, link-local and an
# IPv4-mapped private address.
INTERNAL_URLS = [
    "http://169.254.169.254/latest/meta-data",
    "http://10.0.0.5:9200",
    "http://100.64.0.1",
    "http://[fd00::1]",
    "http://[fe80::1]",
    "http://[::ffff:10.0.0.1]",
]
