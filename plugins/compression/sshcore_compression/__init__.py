"""zlib compression for sshcore (RFC 4253 6.2, OpenSSH's delayed zlib@openssh.com)."""
