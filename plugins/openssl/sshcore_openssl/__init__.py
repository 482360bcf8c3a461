"""OpenSSL-backed alternative implementations of sshcore algorithms (via ``cryptography``).

Every algorithm here has the same wire name and negotiation ``priority`` as the
pycryptodome plugin that also provides it, and a higher ``implementation_priority``:
installing this distribution changes which code serves a name, never what is negotiated.
"""
