"""Encryption algorithms for sshcore (RFC 4344, RFC 5647, OpenSSH PROTOCOL.chacha20poly1305)."""
