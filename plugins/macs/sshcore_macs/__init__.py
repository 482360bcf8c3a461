"""HMAC message authentication for sshcore (RFC 4253 6.4, RFC 6668, OpenSSH -etm variants)."""
