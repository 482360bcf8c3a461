"""Elliptic-curve Diffie-Hellman key exchange (RFC 5656, RFC 8731)."""
