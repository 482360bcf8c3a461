"""Finite-field Diffie-Hellman key exchange (RFC 4253 section 8, RFC 8268)."""
