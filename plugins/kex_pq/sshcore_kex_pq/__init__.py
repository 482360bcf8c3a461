"""Post-quantum hybrid key exchange for sshcore (mlkem768x25519-sha256)."""
