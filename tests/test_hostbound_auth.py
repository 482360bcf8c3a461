"""publickey-hostbound-v00@openssh.com on the server: the request's host key must be this
session's, and the signature covers it."""

from __future__ import annotations

from sshcore.interfaces import AuthAsk, AuthDone, ServerAuthContext
from sshcore.testing import TestKey
from sshcore.wire import boolean, string
from sshcore_auth._publickey import HOSTBOUND, PublicKeyServer, signed_data


def _server(host_key: bytes, user_key: TestKey) -> PublicKeyServer:
    ctx = ServerAuthContext(b"sid", ["test-sig"], lambda blob, alg: user_key
                            if blob == user_key.public_blob else None, host_key, HOSTBOUND)
    return PublicKeyServer(ctx)


def test_hostbound_request_checks_the_host_key_and_signature():
    user = TestKey()
    alg = user.sig_algorithms()[0]
    data = signed_data(b"sid", "u", "ssh-connection", alg, user.public_blob, b"HOST")
    sig = user.sign(data, alg)
    body = boolean(True) + string(alg) + string(user.public_blob) + string(b"HOST") + string(sig)

    ok = _server(b"HOST", user)
    assert isinstance(ok.request("u", "ssh-connection", body), AuthAsk)
    assert ok.resume(True) == AuthDone(success=True)

    other_host = _server(b"OTHER", user)  # bound to another host key: refused outright
    assert other_host.request("u", "ssh-connection", body) == AuthDone()

    plain = signed_data(b"sid", "u", "ssh-connection", alg, user.public_blob)
    unbound_sig = body[:-len(string(sig))] + string(user.sign(plain, alg))
    wrong = _server(b"HOST", user)  # a plain publickey signature does not do
    assert isinstance(wrong.request("u", "ssh-connection", unbound_sig), AuthAsk)
    assert wrong.resume(True) == AuthDone(success=False)
