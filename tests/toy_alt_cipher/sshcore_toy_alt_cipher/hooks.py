"""aes128-ctr again, on OpenSSL: the same wire name, a higher implementation priority.

Written only against the public plugin API, as a third party would.  Each keyed cipher
appends to the file named by $TOY_ALT_CIPHER_LOG, so a test can see which provider
served a connection.
"""

from __future__ import annotations

import os

from sshcore.plugin import CipherAlgorithm, hookimpl, lazy

#: The plugin API this was written for (sshcore refuses the plugin if it cannot serve it).
SSHCORE_PLUGIN_API = (1, 0)


class AESCTR:
    def __init__(self, key: bytes, iv: bytes, encrypt: bool) -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        ctx = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
        self.encrypt = self.decrypt = ctx.update
        log = os.environ.get("TOY_ALT_CIPHER_LOG")
        if log:
            with open(log, "a") as f:
                f.write("keyed\n")


@hookimpl
def sshcore_ciphers():
    # Same name and negotiation priority as the standard plugin's; only the choice of
    # implementation differs.
    return [CipherAlgorithm("aes128-ctr", 16, 16, 16, lazy(f"{__name__}:AESCTR"),
                            priority=90, implementation_priority=10)]
