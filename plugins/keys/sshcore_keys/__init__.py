"""Public-key algorithms and key file formats for sshcore."""

from ._keys import fingerprint, public_key_line  # noqa: F401
