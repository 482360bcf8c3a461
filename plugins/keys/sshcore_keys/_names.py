"""The certificate type and signature algorithm names, as data (no crypto imports), for
the hooks to describe algorithms without loading the implementations."""

from __future__ import annotations

SUFFIX = "-cert-v01@openssh.com"
#: certificate type -> (plain key type, how many public fields follow the nonce, their kind)
CERT_TYPES = {
    "ssh-ed25519" + SUFFIX: ("ssh-ed25519", "s"),
    "ecdsa-sha2-nistp256" + SUFFIX: ("ecdsa-sha2-nistp256", "ss"),
    "ecdsa-sha2-nistp384" + SUFFIX: ("ecdsa-sha2-nistp384", "ss"),
    "ecdsa-sha2-nistp521" + SUFFIX: ("ecdsa-sha2-nistp521", "ss"),
    "ssh-rsa" + SUFFIX: ("ssh-rsa", "mm"),
    "ssh-dss" + SUFFIX: ("ssh-dss", "mmmm"),
    # security keys (PROTOCOL.u2f): the application string follows the key
    "sk-ssh-ed25519" + SUFFIX: ("sk-ssh-ed25519@openssh.com", "ss"),
    "sk-ecdsa-sha2-nistp256" + SUFFIX: ("sk-ecdsa-sha2-nistp256@openssh.com", "sss"),
}
#: signature algorithm for a certificate -> the plain algorithm that signs
CERT_SIG_ALGS = {
    "ssh-ed25519" + SUFFIX: "ssh-ed25519",
    "ecdsa-sha2-nistp256" + SUFFIX: "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384" + SUFFIX: "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521" + SUFFIX: "ecdsa-sha2-nistp521",
    "rsa-sha2-512" + SUFFIX: "rsa-sha2-512",
    "rsa-sha2-256" + SUFFIX: "rsa-sha2-256",
    "ssh-rsa" + SUFFIX: "ssh-rsa",
    "ssh-dss" + SUFFIX: "ssh-dss",
    "sk-ssh-ed25519" + SUFFIX: "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256" + SUFFIX: "sk-ecdsa-sha2-nistp256@openssh.com",
}
