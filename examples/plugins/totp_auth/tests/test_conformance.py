"""The kit on totp@example.com (sshcore against itself: OpenSSH lacks it), and the
RFC 6238 appendix B vector for the code itself."""

import sshcore
from sshcore.conformance import AuthSetup
from sshcore_totp_auth import NAME, totp

SECRET = b"12345678901234567890"


def test_rfc6238_vector():
    assert totp(SECRET, at=59, digits=8) == "94287082"
    assert totp(SECRET, at=1111111109, digits=8) == "07081804"


class Server(sshcore.SSHServer):
    def validate_auth(self, username, method, kind, info):
        return SECRET if (method, kind) == (NAME, "totp-secret") else None


def test_conformance(sshcore_kit):
    setup = AuthSetup(client_options={"auth_credentials": {"totp_secret": SECRET}},
                      server_options={"auth_methods": [NAME], "server_factory": Server},
                      bad_client_options={"auth_credentials": {"totp_code": "not-a-code"}})
    report = sshcore_kit.check_auth_method(NAME, "sshcore-totp-auth", auth=setup)
    assert "wrong credentials refused by sshcore server" in str(report)
